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



def action_effect(estimate: float | None, interval: Sequence[float] | None, level: float, n_acted: int) -> str:
    """The outcomes tab's headline in words: the adjusted effect of acting, with its interval."""
    if estimate is None:
        return ("No adjusted estimate yet: it is computed by the training job "
                "(`python -m services.cli train`). The raw rates below compare accounts CSMs chose to act on "
                "with those they did not, so they do not answer whether acting helps.")
    verb = "cut" if estimate >= 0 else "raised"
    text = (f"Acting on a flagged account {verb} its chance of churning by an estimated {abs(estimate):.0%}, "
            f"after allowing for which accounts CSMs chose to act on ({n_acted:,} accounts acted on)")
    if interval:
        lo, hi = sorted(float(v) for v in interval)
        if lo > 0:
            sure = "the whole range is a reduction"
        elif hi < 0:
            sure = "the whole range is an increase"
        else:
            sure = "the range includes no effect, so the data cannot yet tell"
        text += f"; {level:.0%} interval: {lo:.0%} to {hi:.0%} reduction ({sure})"
    return text + "."
