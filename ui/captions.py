"""Figures that page captions and labels show, built from the stored model metrics or the one constant that
defines them (never typed into a page's text). Pure functions: no Streamlit."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.churn.tables import TIERS
from services.monitoring.drift import THRESHOLD


def tiers(metrics: Mapping[str, Any] | None = None) -> str:
    """'tiers: high ≥ 25%, medium ≥ 10%' from the model's stored cut-offs (else the declared TIERS)."""
    cuts: Mapping[str, float] | Sequence = (metrics or {}).get("tiers") or TIERS
    pairs = sorted(((str(k), float(v)) for k, v in (cuts.items() if isinstance(cuts, Mapping) else cuts)),
                   key=lambda kv: -kv[1])
    return "tiers: " + ", ".join(f"{name} ≥ {cut:.0%}" for name, cut in pairs if cut > 0)


def psi_flag() -> str:
    """'PSI > 0.2': when the drift check flags a feature."""
    return f"PSI > {THRESHOLD:g}"

