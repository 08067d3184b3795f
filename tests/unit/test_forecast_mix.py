"""Forecast deal mix: the largest deal's share per node, flagged above any backtested quarter's."""
from __future__ import annotations

import pandas as pd

from services.forecast import engine as fe
from services.forecast import mix


def _tree() -> fe.Tree:
    people = pd.DataFrame({"person_id": ["C", "V", "M", "R1", "R2"],
                           "role": ["cro", "regional_vp", "manager", "rep", "rep"],
                           "manager_id": [None, "C", "V", "M", "M"]})
    return fe.build_tree(people, ["P"])


def _deals(rows: list[tuple[str, str, float]], quarter: str = "2026Q4", week: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"opportunity_id": [r[0] for r in rows], "owner_id": [r[1] for r in rows],
                         "product_id": "P", "contribution_usd": [r[2] for r in rows],
                         "target_quarter": quarter, "week": week})


def test_top_share_per_node() -> None:
    tree = _tree()
    s = mix.node_top_share(tree, _deals([("a", "R1", 10.0), ("b", "R1", 30.0), ("c", "R2", 60.0)]))
    at = dict(zip(zip(tree.nodes.person_id, tree.nodes.product_id), s.itertuples()))
    assert at[("C", fe.ALL)].top_deal_id == "c" and abs(at[("C", fe.ALL)].top_deal_share - 0.6) < 1e-9
    assert at[("R1", fe.ALL)].top_deal_id == "b" and abs(at[("R1", fe.ALL)].top_deal_share - 0.75) < 1e-9
    assert at[("C", fe.ALL)].n_deals == 3 and abs(at[("C", fe.ALL)].expected_usd - 100) < 1e-9


def test_a_mix_unlike_the_backtest_is_flagged_with_a_reason() -> None:
    tree = _tree()
    past = pd.concat([_deals([(f"p{i}", "R1" if i % 2 else "R2", 10.0) for i in range(10)], "2026Q2", w)
                      for w in (0, 6)])
    live = _deals([("big", "R1", 90.0), ("s1", "R2", 5.0), ("s2", "R2", 5.0)])
    out = mix.flags(tree, past, live, "2026Q4")
    company = out[(out.person_id == "C") & (out.product_id == fe.ALL)].iloc[0]
    assert company.unusual and "big" in company.reason and company.backtest_max_share < 0.5
    even = mix.flags(tree, past, _deals([(f"x{i}", "R1", 10.0) for i in range(10)]), "2026Q4")
    assert not even[(even.person_id == "C") & (even.product_id == fe.ALL)].unusual.iloc[0]
