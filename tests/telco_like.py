"""A look-alike of the public IBM Telco Customer Churn table (same column names and kinds, synthetic
values and a plausible label). It is NOT the real file: there is no internet access here."""
from __future__ import annotations

import numpy as np
import pandas as pd


def telco_like(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.21, 0.24])
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.34, 0.44, 0.22])
    payment = rng.choice(["Electronic check", "Mailed check", "Bank transfer (automatic)",
                          "Credit card (automatic)"], n, p=[0.34, 0.23, 0.22, 0.21])
    tenure = np.clip(np.round(rng.exponential(30, n) * np.where(contract == "Two year", 1.6, 1.0)), 0, 72)
    yes_no = ["Yes", "No"]
    security = np.where(internet == "No", "No internet service", rng.choice(yes_no, n, p=[0.3, 0.7]))
    support = np.where(internet == "No", "No internet service", rng.choice(yes_no, n, p=[0.3, 0.7]))
    monthly = np.round(20 + 25 * (internet == "DSL") + 50 * (internet == "Fiber optic") + rng.normal(0, 8, n), 2)
    total = np.round(monthly * tenure * rng.uniform(0.9, 1.05, n), 2).astype(object)
    total[tenure == 0] = " "  # like the real file: blank TotalCharges for new customers
    logit = (-1.2 + 1.3 * (contract == "Month-to-month") - 1.2 * (contract == "Two year")
             + 0.9 * (internet == "Fiber optic") + 0.6 * (payment == "Electronic check")
             - 0.035 * tenure + 0.5 * (security == "No") + 0.4 * (support == "No")
             + 0.6 * np.exp(-tenure / 3) + 0.008 * (monthly - 65)
             + 0.9 * (contract == "Month-to-month") * (internet == "Fiber optic") * (tenure < 12))
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "customerID": [f"{i:04d}-{rng.integers(10000, 99999)}" for i in range(n)],
        "gender": rng.choice(["Female", "Male"], n), "SeniorCitizen": (rng.random(n) < 0.16).astype(int),
        "Partner": rng.choice(yes_no, n), "Dependents": rng.choice(yes_no, n, p=[0.3, 0.7]),
        "tenure": tenure.astype(int), "PhoneService": rng.choice(yes_no, n, p=[0.9, 0.1]),
        "InternetService": internet, "OnlineSecurity": security, "TechSupport": support,
        "Contract": contract, "PaperlessBilling": rng.choice(yes_no, n, p=[0.6, 0.4]),
        "PaymentMethod": payment, "MonthlyCharges": monthly, "TotalCharges": total,
        "Churn": np.where(churn, "Yes", "No"),
    })
