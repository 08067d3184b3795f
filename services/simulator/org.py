"""The demo company's people: CRO > regional VPs > managers > reps, the CS team, and the analytics and
data staff (an architect, a data scientist, an admin, a data owner) who sign in to the app.

Every person has a work e-mail (`first.last.e0001@example.com`); the staff rows come last and draw no
random numbers, so adding them changed none of the demo's other tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

REGIONS = ["North America", "EMEA", "APAC", "LATAM"]
REGION_WEIGHTS = np.array([0.42, 0.30, 0.18, 0.10])
MANAGERS_PER_REGION = 3
REPS_PER_MANAGER = 6
STAFF_ROLES = ("architect", "data_scientist", "admin", "data_owner")

FIRST = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kofi", "Lea",
         "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vik", "Wen", "Yara"]
LAST = ["Adams", "Baker", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Huang", "Ito", "Jones",
        "Kumar", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber"]


def _name(rng: np.random.Generator) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def make_people(rng: np.random.Generator, n_accounts: int) -> pd.DataFrame:
    rows = [("E0001", _name(rng), "cro", None, None)]
    n = 2
    for region in REGIONS:
        rvp = f"E{n:04d}"; n += 1
        rows.append((rvp, _name(rng), "regional_vp", "E0001", region))
        for _ in range(MANAGERS_PER_REGION):
            mgr = f"E{n:04d}"; n += 1
            rows.append((mgr, _name(rng), "manager", rvp, region))
            for _ in range(REPS_PER_MANAGER):
                rows.append((f"E{n:04d}", _name(rng), "rep", mgr, region)); n += 1
    n_csm_per_region = max(2, min(125, n_accounts // 200 // len(REGIONS) + 1))
    for region in REGIONS:
        lead = f"E{n:04d}"; n += 1
        rows.append((lead, _name(rng), "cs_manager", "E0001", region))
        for _ in range(n_csm_per_region):
            rows.append((f"E{n:04d}", _name(rng), "csm", lead, region)); n += 1
    for i, role in enumerate(STAFF_ROLES):
        rows.append((f"E{n:04d}", f"{FIRST[-1 - i]} {LAST[-1 - i]}", role, None, None)); n += 1
    people = pd.DataFrame(rows, columns=["person_id", "name", "role", "manager_id", "region"])
    people["email"] = [_email(name, pid) for name, pid in zip(people["name"], people["person_id"])]
    return people


def _email(name: str, person_id: str) -> str:
    return f"{name.lower().replace(' ', '.')}.{person_id.lower()}@example.com"
