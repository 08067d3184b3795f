"""A small hand-made dataset that satisfies the data contract (a few rows per table).

`valid_frames()` returns fresh frames with string cells, as if read from CSV files, so tests can
break one thing at a time. `write_csvs(frames, folder)` writes them as `<table>.csv`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _frame(columns: str, rows: list[str]) -> pd.DataFrame:
    cols = columns.split(",")
    data = [[None if v == "" else v for v in r.split(",")] for r in rows]
    return pd.DataFrame(data, columns=cols, dtype=object)


def valid_frames() -> dict[str, pd.DataFrame]:
    return {
        "people": _frame("person_id,name,role,manager_id,region", [
            "P0001,Cora Ross,cro,,",
            "P0002,Val Ortiz,regional_vp,P0001,EMEA",
            "P0003,Max Young,manager,P0002,EMEA",
            "P0004,Rae Singh,rep,P0003,EMEA",
            "P0005,Lou Chen,rep,P0003,EMEA",
            "P0006,Ida Berg,csm,P0001,EMEA",
        ]),
        "accounts": _frame("account_id,name,industry,segment,region,owner_id,csm_id,created_date", [
            "A000001,Acme,Retail,SMB,EMEA,P0004,P0006,2023-01-15",
            "A000002,Globex,Software,Enterprise,EMEA,P0005,,2023-03-01",
            "A000003,Initech,Finance,Mid-Market,EMEA,P0004,,2024-06-10",
        ]),
        "products": _frame("product_id,name,pricing_model", [
            "CRM,Pipeline CRM,per_seat",
            "MKT,Campaigns,allowance",
        ]),
        "metric_catalog": _frame(
            "metric_id,product_id,name,description,unit,role,job,higher_is_better", [
                "crm_seats,CRM,Licensed seats,Seats paid for,seats,capacity,,true",
                "crm_mau,CRM,Monthly active users,Users active,seats,consumption,,true",
                "crm_reports,CRM,Reports run,Reports,count,feature,Report,true",
                "mkt_allow,MKT,Message allowance,Messages paid for,messages,capacity,,true",
                "mkt_sent,MKT,Messages sent,Messages,messages,consumption,,true",
            ]),
        "subscriptions": _frame(
            "subscription_id,account_id,product_id,start_date,end_date,arr_usd,quantity,renewal_of", [
                "S0000001,A000001,CRM,2023-02-01,2024-02-01,12000,10,",
                "S0000002,A000001,CRM,2024-02-01,2025-02-01,14400,12,S0000001",
                "S0000003,A000002,MKT,2023-04-01,2024-04-01,50000,100000,",
            ]),
        "usage_monthly": _frame("account_id,product_id,metric_id,month,value", [
            "A000001,CRM,crm_seats,2024-03-01,12",
            "A000001,CRM,crm_mau,2024-03-01,9",
            "A000001,CRM,crm_reports,2024-03-01,40",
            "A000002,MKT,mkt_allow,2024-03-01,8333",
            "A000002,MKT,mkt_sent,2024-03-01,7000",
            "A000001,CRM,crm_mau,2024-04-01,10",
        ]),
        "opportunities": _frame(
            "opportunity_id,account_id,owner_id,product_id,type,amount_usd,created_date,close_date,"
            "stage,forecast_category,is_closed,is_won", [
                ("O000001,A000001,P0004,CRM,renewal,14400,2023-12-01,2024-02-01,Closed Won,closed,"
                "true,true"),
                ("O000002,A000003,P0004,CRM,new,9000,2024-07-01,2024-09-30,Propose,best_case,"
                "false,false"),
                ("O000003,A000002,P0005,MKT,renewal,50000,2024-01-10,2024-04-01,Closed Lost,omitted,"
                "true,false"),
            ]),
        "opportunity_history": _frame(
            "opportunity_id,snapshot_date,stage,amount_usd,close_date,forecast_category", [
                "O000001,2023-12-01,Qualify,14400,2024-02-01,pipeline",
                "O000001,2024-02-01,Closed Won,14400,2024-02-01,closed",
                "O000002,2024-07-01,Qualify,9000,2024-09-30,pipeline",
                "O000003,2024-01-10,Qualify,50000,2024-04-01,pipeline",
            ]),
        "support_cases": _frame("case_id,account_id,opened_date,closed_date,severity,csat", [
            "C000001,A000001,2024-03-05,2024-03-07,2,5",
            "C000002,A000002,2024-03-09,,1,",
        ]),
        "commits": _frame("person_id,quarter,amount_usd,submitted_at", [
            "P0004,2024Q3,9000,2024-07-02T09:30:00",
            "P0003,2024Q3,20000,2024-07-03T10:00:00",
        ]),
    }


def write_csvs(frames: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder
