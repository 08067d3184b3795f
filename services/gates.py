"""The quality gate: the one rule type every training job declares its checks with.

A job module lists its rules in `GATES`; `services.jobs` applies them to each new version against the
active one. A rule fails a new version when its metric is past an absolute limit (`limit`), or worse than
the active version's by more than `max_worse + max_worse_relative x |active|`. A failing version is
stored as `rejected` (not shown); `train --force` activates it anyway. A rule whose metric the new run
did not report is skipped. `docs/results.md` lists every job's rules, generated from these declarations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Gate:
    metric: str
    higher_is_better: bool
    limit: float | None = None  # a floor when higher is better, a ceiling otherwise
    max_worse: float | None = None  # absolute slack against the active version
    max_worse_relative: float = 0.0  # slack as a share of the active version's value

    def check(self, new: dict[str, Any], active: dict[str, Any]) -> str | None:
        """The reason `new` may not replace `active`, or None."""
        n = new.get(self.metric)
        if not _number(n):
            return None
        if self.limit is not None:
            past = n < self.limit if self.higher_is_better else n > self.limit
            if past:
                bound = "below the floor" if self.higher_is_better else "above the ceiling"
                return f"{self.metric} {n:.4g} is {bound} of {self.limit:g}"
        a = active.get(self.metric)
        if (self.max_worse is None and not self.max_worse_relative) or not _number(a):
            return None
        slack = (self.max_worse or 0.0) + self.max_worse_relative * abs(a)
        worse = (a - n) if self.higher_is_better else (n - a)
        if worse <= slack + 1e-12:
            return None
        word = "dropped" if self.higher_is_better else "rose"
        return f"{self.metric} {word} from {a:.4f} (active) to {n:.4f}, beyond the tolerance of {self.tolerance_text()}"

    def tolerance_text(self) -> str:
        parts = []
        if self.max_worse is not None:
            parts.append(f"{self.max_worse:g}")
        if self.max_worse_relative:
            parts.append(f"{self.max_worse_relative:.0%} of the active value")
        return " + ".join(parts) or "none"

    def describe(self) -> str:
        """One line for the docs."""
        out = []
        if self.limit is not None:
            out.append(f"at least {self.limit:g}" if self.higher_is_better else f"at most {self.limit:g}")
        if self.max_worse is not None or self.max_worse_relative:
            verb = "drop" if self.higher_is_better else "rise"
            out.append(f"may {verb} at most {self.tolerance_text()} against the active version")
        return "; ".join(out)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def first_failure(gates: tuple[Gate, ...], new: dict[str, Any], active: dict[str, Any]) -> str | None:
    for g in gates:
        reason = g.check(new, active)
        if reason:
            return reason
    return None
