"""One screen per training run for `make run`: per model its status, version and a few figures in words,
read from the JSON that `python -m services.cli train` prints (the full result stays in that file).

    python -m services.cli train > data/last-train.json; python -m services.train_summary data/last-train.json
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.0%}"


def _num(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{float(v):.{digits}f}"


def _count(v: Any) -> str:
    return "n/a" if v is None else f"{int(v):,}"


def _adoption(r: Mapping[str, Any]) -> str:
    return (f"{r.get('k')} usage clusters over {_count(r.get('accounts'))} accounts "
            f"(separation {_num(r.get('silhouette'))}, stable on resamples {_pct(r.get('stability'))})")


def _churn(r: Mapping[str, Any]) -> str:
    return (f"ranks churners at AUC {_num(r.get('auc'))} (plain logistic model: {_num(r.get('auc_baseline_logreg'))}), "
            f"probabilities off by {_pct(r.get('ece'))} on average; {_count(r.get('n_scored'))} accounts scored")


def _expansion(r: Mapping[str, Any]) -> str:
    return (f"ranks growth at AUC {_num(r.get('auc'))} (logistic: {_num(r.get('auc_baseline_logreg'))}); "
            f"{_count(r.get('n_scored'))} account x product pairs scored")


def _outcomes(r: Mapping[str, Any]) -> str:
    est, band = r.get("action_effect_estimate"), r.get("action_effect_interval_90")
    text = f"acting on a flagged account cuts churn by an estimated {_pct(est)}"
    if band:
        text += f" (90% interval {_pct(band[0])} to {_pct(band[1])})"
    raw = r.get("action_effect_raw")
    if raw is not None:
        text += (f"; before adjusting for whom CSMs chose, acted accounts churned {_pct(abs(raw))} "
                 f"{'more' if raw < 0 else 'less'}")
    return text + f"; {_count(r.get('n_flagged_due'))} flagged renewals"


def _forecast(r: Mapping[str, Any]) -> str:
    quarters = r.get("backtest_origin_quarters") or []
    cov = ((r.get("coverage_p10_p90") or {}).get("current_quarter") or {}).get("company") or {}
    text = (f"this quarter's company bookings, forecast at its start, were off by {_pct(r.get('wape_company'))} "
            f"on average over {len(quarters)} past quarters")
    if cov.get("all") is not None:
        text += f"; the P10-P90 band held the actual in {_pct(cov['all'])} of backtest weeks"
    return text


def _explain(r: Mapping[str, Any]) -> str:
    return f"explanations stored for {', '.join(r.get('models') or []) or 'no model'}"


LINES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "adoption": _adoption, "churn": _churn, "expansion": _expansion, "outcomes": _outcomes,
    "forecast": _forecast, "explain": _explain}


def summary(result: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per model: name, status, seconds and what it means; a model that did not go active says why."""
    out = []
    for model, r in result.items():
        status = r.get("status", "?")
        secs = r.get("train_seconds")
        head = f"{model:<10} {status:<8}" + (f" {float(secs):5.1f}s" if secs is not None else "       ")
        if status == "active":
            try:
                words = LINES[model](r) if model in LINES else str(r.get("version", ""))
            except (TypeError, ValueError, KeyError, IndexError):
                words = str(r.get("version", ""))
            out.append(f"{head}  {words}")
        else:
            out.append(f"{head}  {r.get('note') or ''}")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else None
    text = path.read_text() if path else sys.stdin.read()
    try:
        result = json.loads(text)
    except ValueError:
        print("training printed no result (see the lines above)")
        return 1
    for line in summary(result):
        print(line)
    if path:
        print(f"(full result: {path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
