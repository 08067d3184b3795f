"""Read-side services for the forecast page, and leaders' commits (written back, history kept)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import audit, db, fiscal, picklists, registry
from services.forecast import commit_bias as cb
from services.forecast import tables as T
from services.hierarchy import Scope, people_in_scope, require_in_scope, scope_people
from services.results import ResultTable

MODEL = T.MODEL
ALL = "ALL"


def node_for(people: pd.DataFrame, scope: Scope) -> str:
    """The person whose part of the hierarchy the scope shows (the CRO for the whole company).

    With a bound (`scope.within`) the node is the requested one when it lies inside the bound, else the
    bound's own person: a request can narrow the view, never widen it."""
    node = _requested_node(people, scope) if (scope.rep_id or scope.manager_id or scope.region
                                               or not scope.within) else scope.within
    if scope.within and node not in scope_people(people, scope.within):
        return scope.within
    return node


def _requested_node(people: pd.DataFrame, scope: Scope) -> str:
    if scope.rep_id or scope.manager_id:
        return scope.rep_id or scope.manager_id
    role = "regional_vp" if scope.region else "cro"
    mask = people["role"] == role
    if scope.region:
        mask &= people["region"] == scope.region
    found = people.loc[mask, "person_id"]
    if found.empty:
        raise LookupError(f"no {role} found for scope {scope}")
    return str(found.iloc[0])


def _day_end(as_of: Any) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def _people_rows(engine: Engine, frame: pd.DataFrame, scope: Scope | None) -> pd.DataFrame:
    allowed = people_in_scope(engine, scope)
    if allowed is None or frame.empty:
        return frame
    out = frame[frame["person_id"].isin(allowed)]
    out.attrs.update(frame.attrs)
    return out


def nodes_at(engine: Engine, as_of: Any = None, scope: Scope | None = None) -> pd.DataFrame:
    """Forecast rows (every node in scope, product and quarter) of the latest origin at or before `as_of`
    (None: the latest), live or backtest, plus those of the origin a week before it when stored (for "vs last
    week").

    Empty when no origin at or before `as_of` forecasts the quarter `as_of` falls in (a forecast for an
    earlier quarter would mislead). `attrs`: `origin` (the origin shown, or None)."""
    now = registry.read_snapshot(engine, T.NODES, "origin_date", as_of, MODEL)
    origin = now.attrs["snapshot"]
    if origin is None or (as_of is not None and fiscal.read(engine).key(as_of) not in set(now.quarter)):
        out = now.iloc[0:0]
        out.attrs["origin"] = None
        return out
    week = origin - pd.Timedelta(days=7)
    prev = registry.read_snapshot(engine, T.NODES, "origin_date", week, MODEL)
    out = pd.concat([prev, now], ignore_index=True) if prev.attrs["snapshot"] == week else now
    out = _people_rows(engine, out, scope)
    out.attrs["origin"] = origin
    return out


def commits(engine: Engine, as_of: Any = None, scope: Scope | None = None) -> pd.DataFrame:
    """The commit that counts per person in scope and quarter: the latest in the app, else the imported one;
    with `as_of`, only commits submitted by the end of that day."""
    return _people_rows(engine, _all_commits(engine, as_of), scope)


def _all_commits(engine: Engine, as_of: Any = None) -> pd.DataFrame:
    app = db.read_table("leader_commits", engine)
    imported = db.read_table("commits", engine) if db.table_exists("commits", engine) else pd.DataFrame()
    if as_of is not None:
        app, imported = (f[pd.to_datetime(f.submitted_at) <= _day_end(as_of)] if not f.empty else f
                         for f in (app, imported))
    parts = [f.assign(source=s) for f, s in ((app, "app"), (imported, "imported")) if not f.empty]
    if not parts:
        return pd.DataFrame(columns=["person_id", "quarter", "amount_usd", "note", "submitted_at", "source"])
    df = pd.concat(parts, ignore_index=True)
    df["rank"] = (df["source"] == "app").astype(int)
    df = df.sort_values(["rank", "submitted_at"]).groupby(["person_id", "quarter"], as_index=False).last()
    return df.drop(columns="rank")


def save_commit(engine: Engine, person_id: str, quarter: str, amount_usd: float, note: str = "",
                submitted_by: str | None = None) -> str:
    """Append a leader's commit (never overwrites: the latest per person and quarter counts); `quarter` is a
    key of the company's fiscal quarters ("2027Q1", services/fiscal.py)."""
    if not person_id:
        raise ValueError("a commit needs a person")
    fiscal.read(engine).period(quarter)  # a ValueError that shows the spelling expected
    if amount_usd is None or amount_usd < 0:
        raise ValueError("the commit amount must be zero or more")
    commit_id = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(db.LEADER_COMMITS.insert().values(
            commit_id=commit_id, person_id=person_id, quarter=quarter, amount_usd=float(amount_usd),
            note=note or None, submitted_by=submitted_by or person_id, submitted_at=datetime.now()))
        audit.record(conn, submitted_by or person_id, "commit", person_id=person_id, quarter=quarter,
                     amount_usd=float(amount_usd), commit_id=commit_id)
    return commit_id


def commit_history(engine: Engine, person_id: str, quarter: str, scope: Scope | None = None) -> pd.DataFrame:
    """Every commit a leader entered in the app for a quarter, newest first."""
    require_in_scope(people_in_scope(engine, scope), person_id, "Person")
    app = db.read_table("leader_commits", engine)
    app = app[(app.person_id == person_id) & (app.quarter == quarter)]
    return app.sort_values("submitted_at", ascending=False)[["submitted_at", "amount_usd", "note", "submitted_by"]]


def _latest_only(frame: pd.DataFrame, engine: Engine, table: ResultTable, column: str) -> pd.DataFrame:
    dates = registry.snapshot_dates(engine, table, column, MODEL)
    frame.attrs["stored"] = dates[-1] if dates else None  # the one date these rows are stored for
    return frame


def ending_arr(engine: Engine, as_of: Any = None, scope: Scope | None = None) -> pd.DataFrame:
    """The active version's ending ARR per node in scope and quarter, stored as of the data's as-of only:
    empty for an earlier `as_of` (and before a run that wrote it); `attrs["stored"]` is the stored date."""
    arr = _people_rows(engine, registry.read_snapshot(engine, T.ARR, "origin_date", as_of, MODEL), scope)
    return _latest_only(arr, engine, T.ARR, "origin_date")


def figures(engine: Engine, nodes: pd.DataFrame, person_ids: list[str], quarter: str,
            as_of: Any = None) -> pd.DataFrame:
    """Header figures per person for a quarter at the newest origin of `nodes` and a week earlier (when
    `nodes` hold it), with the changes and the blend used (`stage_weight`, `fresh_factor`, see
    services/forecast/blend.py); commits submitted by `as_of` (None: all)."""
    n = nodes[(nodes.product_id == ALL) & nodes.person_id.isin(person_ids) & (nodes.quarter == quarter)]
    if n.empty:
        return pd.DataFrame()
    now_d, prev_d = n.origin_date.max(), n.origin_date.min()
    cols = ["p10_usd", "p50_usd", "p90_usd", "closed_won_usd", "open_pipeline_usd"]
    now = n[n.origin_date == now_d].set_index("person_id")
    prev = n[n.origin_date == prev_d].set_index("person_id")[cols].add_suffix("_last_week")
    blend = [c for c in ("stage_weight", "fresh_factor") if c in now]  # versions before the blend lack them
    out = now[["role", *cols, *blend]].join(prev if prev_d < now_d else prev.iloc[0:0])
    c = _all_commits(engine, as_of)
    c = c[c.quarter == quarter].set_index("person_id")["amount_usd"]
    out["commit_usd"] = c.reindex(out.index)
    q = db.read_table("quotas", engine) if db.table_exists("quotas", engine) else pd.DataFrame()
    out["quota_usd"] = (q[q.quarter == quarter].set_index("person_id")["amount_usd"].reindex(out.index)
                        if not q.empty else float("nan"))
    out["gap_to_commit_usd"] = out["p50_usd"] - out["commit_usd"]
    remaining = (out["quota_usd"].fillna(out["commit_usd"]) - out["closed_won_usd"]).clip(lower=1.0)
    out["pipeline_coverage"] = out["open_pipeline_usd"] / remaining
    return out.reset_index()


def missing_inputs(engine: Engine) -> dict[str, str]:
    """The optional inputs the company has not given (no rows), each with what the page leaves out."""
    with engine.connect() as conn:
        rows = {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar() or 0
                for t in ("quotas", "commits", "leader_commits") if db.table_exists(t, engine)}
    out = {}
    if not rows.get("quotas"):
        out["quotas"] = ("No quotas in the imported data: quota is left out, and pipeline coverage is measured "
                         "against the commit where there is one.")
    if not rows.get("commits") and not rows.get("leader_commits"):
        out["commits"] = ("No commits imported or entered yet: commit, gap to commit and commit bias are left out "
                          "until someone enters one below.")
    return out


def children(people: pd.DataFrame, person_id: str) -> list[str]:
    return people.loc[people.manager_id == person_id, "person_id"].tolist()


def by_product(nodes: pd.DataFrame, person_id: str, quarter: str) -> pd.DataFrame:
    n = nodes[(nodes.person_id == person_id) & (nodes.quarter == quarter) & (nodes.product_id != ALL)]
    return n[n.origin_date == n.origin_date.max()][["product_id", "closed_won_usd", "p10_usd", "p50_usd",
                                                    "p90_usd", "open_pipeline_usd"]]


def quarterly_actuals(engine: Engine, owners: list[str], quarters: int = 8, as_of: Any = None) -> pd.DataFrame:
    """Closed-won bookings (new + expansion) per quarter for the owners, the last `quarters` quarters
    (closed by `as_of`; None: all)."""
    o = db.read_table("opportunities", engine, columns=["owner_id", "type", "is_won", "close_date", "amount_usd"])
    o = o[o.is_won & o.type.isin(["new", "expansion"]) & o.owner_id.isin(owners)]
    if as_of is not None:
        o = o[o.close_date <= _day_end(as_of)]
    s = o.groupby(fiscal.read(engine).keys(o.close_date))["amount_usd"].sum()
    return s.tail(quarters).rename("actual_usd").rename_axis("quarter").reset_index()


def deals(engine: Engine, owners: list[str], quarter: str, limit: int = 25, as_of: Any = None) -> pd.DataFrame:
    """Open deals in scope for a quarter ranked by their contribution to the forecast. Stored as of the
    data's as-of only: empty for an earlier `as_of`; `attrs["stored"]` is the stored date."""
    d = _latest_only(registry.read_snapshot(engine, T.DEALS, "as_of", as_of, MODEL, "target_quarter = :q",
                                            {"q": quarter}), engine, T.DEALS, "as_of")
    if d.empty:
        return d
    d = d[d.owner_id.isin(owners)].sort_values("contribution_usd", ascending=False).head(limit)
    d["account_link"] = "/account?account_id=" + d["account_id"]
    return d


def track_record(engine: Engine, person_id: str, as_of: Any = None, scope: Scope | None = None) -> pd.DataFrame:
    """Past quarters (ended by `as_of`; None: all): the model's number at weeks 0, 4, 8, the commit and the
    actual; who was closer. NotInScope for a person outside `scope`."""
    require_in_scope(people_in_scope(engine, scope), person_id, "Person")
    b = _backtest(engine, person_id)
    if as_of is not None and not b.empty:
        cal = fiscal.read(engine)
        ended = b.quarter.map(cal.end) <= pd.Timestamp(as_of)
        b = b[ended]
    if b.empty:
        return b
    b = b[b.h == 0] if "h" in b else b
    t = b[b.week.isin([0, 4, 8])].pivot_table(index="quarter", columns="week", values="p50_usd")
    t.columns = [f"model_week_{int(w)}_usd" for w in t.columns]
    t["actual_usd"] = b.groupby("quarter")["actual_usd"].first()
    c = _all_commits(engine, as_of)
    t["commit_usd"] = c[c.person_id == person_id].set_index("quarter")["amount_usd"].reindex(t.index)
    err_model = (t.get("model_week_4_usd") - t["actual_usd"]).abs()
    err_commit = (t["commit_usd"] - t["actual_usd"]).abs()
    t["closer"] = pd.Series("model", index=t.index).where(err_model <= err_commit, "commit").where(
        t["commit_usd"].notna(), "no commit")
    return t.reset_index()


def backtest_actuals(engine: Engine, scope: Scope | None = None) -> pd.DataFrame:
    """`person_id, quarter, actual_usd` of every backtested quarter (what was booked, per node in scope)."""
    b = registry.read_results(engine, T.NODES, MODEL, "kind = 'backtest' AND product_id = 'ALL' AND week = 0")
    if b.empty or "h" not in b:
        return pd.DataFrame(columns=["person_id", "quarter", "actual_usd"])
    return _people_rows(engine, b[b.h == 0][["person_id", "quarter", "actual_usd"]]
                        .drop_duplicates(["person_id", "quarter"]), scope)


def commit_bias(engine: Engine, quarter: str, scope: Scope | None = None) -> pd.DataFrame:
    """Per person in scope: the commit for `quarter`, their past commit bias and spread, the corrected commit."""
    c = commits(engine, scope=scope)
    return cb.corrected(c, cb.errors(c, backtest_actuals(engine, scope)), quarter)


def _backtest(engine: Engine, person_id: str) -> pd.DataFrame:
    return registry.read_results(engine, T.NODES, MODEL,
                                 "kind = 'backtest' AND person_id = :p AND product_id = 'ALL'", {"p": person_id})


def accuracy_here(engine: Engine, person_id: str, h: int, week: int, quarters: int = 10,
                  scope: Scope | None = None) -> dict:
    """How this forecast did in the backtest at this point: same node, horizon `h` and the nearest
    backtested week, the last `quarters` target quarters. Empty when there is no backtest; NotInScope for
    a person outside `scope`."""
    require_in_scope(people_in_scope(engine, scope), person_id, "Person")
    b = _backtest(engine, person_id)
    if b.empty or "h" not in b or not (b.h == h).any():
        return {}
    b = b[b.h == h]
    near = int(b.week.iloc[(b.week - week).abs().argsort().iloc[0]])
    return track_summary(b[b.week == near].sort_values("quarter").tail(quarters), near)


def track_summary(rows: pd.DataFrame, week: int) -> dict:
    """`within_pct`: the error that `hits` of the `n` quarters stayed within (the 80% one), plus the
    bias (signed error of the total) and how often the actual fell inside P10-P90."""
    rows = rows[rows.actual_usd > 0]
    if rows.empty:
        return {}
    err = (rows.p50_usd - rows.actual_usd).abs() / rows.actual_usd
    n = len(rows)
    hits = max(1, -(-8 * n // 10))  # ceil(0.8 n)
    inside = (rows.actual_usd >= rows.p10_usd) & (rows.actual_usd <= rows.p90_usd)
    return {"week": week, "n": n, "hits": hits, "within_pct": float(err.sort_values().iloc[hits - 1] * 100),
            "bias_pct": float((rows.p50_usd - rows.actual_usd).sum() / rows.actual_usd.sum() * 100),
            "inside_band": int(inside.sum())}


BRIDGE_DAYS = 7  # the pipeline bridge: what changed over this many days


def waterfall(engine: Engine, owners: list[str], as_of: pd.Timestamp, quarter: str) -> pd.DataFrame:
    """Change in this quarter's open pipeline over the last `BRIDGE_DAYS` days, by cause, from opportunity_history."""
    start = pd.Timestamp(as_of) - pd.Timedelta(days=BRIDGE_DAYS)
    sql = sa.text("SELECT h.* FROM opportunity_history h JOIN opportunities o ON o.opportunity_id = h.opportunity_id "
                  "WHERE o.type IN ('new', 'expansion') AND h.opportunity_id IN (SELECT opportunity_id FROM "
                  "opportunity_history WHERE snapshot_date > :s AND snapshot_date <= :e)")
    with engine.connect() as conn:
        h = pd.read_sql(sql, conn, params={"s": start.date(), "e": pd.Timestamp(as_of).date()})
    owner = db.read_table("opportunities", engine, columns=["opportunity_id", "owner_id"]).set_index("opportunity_id")
    h = h[h.opportunity_id.map(owner["owner_id"]).isin(owners)]
    for c in ("snapshot_date", "close_date"):
        h[c] = pd.to_datetime(h[c])
    h = h.sort_values("snapshot_date")
    before = h[h.snapshot_date <= start].groupby("opportunity_id").last()
    after = h[h.snapshot_date <= pd.Timestamp(as_of)].groupby("opportunity_id").last()
    stages = picklists.read_stages(engine)
    closed = picklists.closed_stages(stages)
    cal = fiscal.read(engine)
    in_q = lambda f: cal.keys(f.close_date).eq(quarter) & ~f.stage.isin(closed)
    b = before[in_q(before)].amount_usd.reindex(after.index).fillna(0.0)
    a_open = after[in_q(after)].amount_usd.reindex(after.index).fillna(0.0)
    was_in = b > 0
    steps = {
        "created": a_open[~after.index.isin(before.index)].sum(),
        "pulled in": a_open[after.index.isin(before.index) & ~was_in & (a_open > 0)].sum(),
        "increased": (a_open - b)[was_in & (a_open > b)].sum(),
        "decreased": (a_open - b)[was_in & (a_open > 0) & (a_open < b)].sum(),
        "pushed out": -b[was_in & (a_open == 0) & ~after.stage.isin(closed)].sum(),
        "lost": -b[was_in & after.stage.isin(picklists.lost_stages(stages))].sum(),
        "won": -b[was_in & after.stage.isin(picklists.won_stages(stages))].sum(),
    }
    return pd.DataFrame({"step": list(steps), "change_usd": list(steps.values())})


def current_quarter(nodes: pd.DataFrame) -> str:
    """The quarter the newest origin of `nodes` lies in (its h = 0 rows' quarter)."""
    if nodes.empty:
        return ""
    now = nodes[nodes.origin_date == nodes.origin_date.max()]
    return str(now.loc[now.h == 0, "quarter"].iloc[0])


def deal_mix(engine: Engine, person_id: str, quarter: str, product_id: str = "ALL",
             scope: Scope | None = None) -> dict[str, Any] | None:
    """The node's deal mix against the backtest (`forecast_mix`; None when not stored for this quarter);
    NotInScope for a person outside `scope`."""
    require_in_scope(people_in_scope(engine, scope), person_id, "Person")
    if not sa.inspect(engine).has_table(str(T.MIX)) or registry.active_version(engine, MODEL) is None:
        return None
    rows = registry.read_results(engine, T.MIX, MODEL, "person_id = :p AND quarter = :q AND product_id = :r",
                                 {"p": person_id, "q": quarter, "r": product_id})
    if rows.empty:
        return None
    out = rows.iloc[0].to_dict()
    out["unusual"] = bool(out.get("unusual"))
    return out


def with_deal_novelty(engine: Engine, deals_frame: pd.DataFrame) -> pd.DataFrame:
    """`deals_frame` (rows of `deals`) with novel, novelty_reason and the win probability's range p_win_low/high
    (`forecast_deal_novelty`; novel False and no range where not stored: deals of later quarters, or a
    version trained before it existed)."""
    out = deals_frame.copy()
    out["novel"], out["novelty_reason"], out["p_win_low"], out["p_win_high"] = False, None, np.nan, np.nan
    if deals_frame.empty or not sa.inspect(engine).has_table(str(T.DEAL_NOVELTY)):
        return out
    nov = registry.read_results(engine, T.DEAL_NOVELTY, MODEL)
    if nov.empty:
        return out
    nov = nov.drop_duplicates("opportunity_id").set_index("opportunity_id")
    out["novel"] = out.opportunity_id.map(nov["novel"]).fillna(False).astype(bool)
    out["novelty_reason"] = out.opportunity_id.map(nov["novelty_reason"]).where(out["novel"], None)
    for c in ("p_win_low", "p_win_high"):
        if c in nov:
            out[c] = pd.to_numeric(out.opportunity_id.map(nov[c]), errors="coerce")
    return out
