"""Rendering of validation reports and the import log (shared by the Data page and others)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from ui.widgets import when

STATUS_ICONS = {"ok": ":material/check_circle:", "success": ":material/check_circle:",
                "failed": ":material/error:", "rejected": ":material/error:"}


def report_dict(report: Any) -> dict[str, Any]:
    """A ValidationReport, its `as_dict()` or that dict as JSON text, as a dict."""
    if report is None:
        return {}
    if hasattr(report, "as_dict"):
        return report.as_dict()
    if isinstance(report, (str, bytes)):
        try:
            return json.loads(report)
        except ValueError:
            return {"text": report}
    return dict(report)


def show_report(report: Any) -> None:
    """Row counts on success; otherwise one line per failed rule with its count and sample rows."""
    rep = report_dict(report)
    failures = rep.get("failures") or []
    if "text" in rep:
        st.code(rep["text"], language=None)
    if not failures:
        counts = rep.get("row_counts") or {}
        if counts:
            frame = pd.DataFrame({"table": list(counts), "rows": list(counts.values())})
            st.dataframe(frame, hide_index=True, column_config={
                "table": "Table", "rows": st.column_config.NumberColumn("Rows", format="localized")})
        return
    summary = pd.DataFrame(failures)[["table", "rule", "failed_count"]]
    st.dataframe(summary, hide_index=True, width="stretch", column_config={
        "table": "Table", "rule": "Failed rule",
        "failed_count": st.column_config.NumberColumn("Rows failing", format="localized")})
    for failure in failures:
        sample = failure.get("sample") or []
        label = f"{failure['table']}: {failure['rule']} ({failure['failed_count']:,} rows)"
        with st.expander(label, icon=":material/error:"):
            if sample:
                st.caption("Sample rows (`row` is the data row number in the file)")
                st.dataframe(pd.DataFrame(sample), hide_index=True)
            else:
                st.caption("No sample rows for this rule.")


def _first(row: pd.Series, names: tuple[str, ...]) -> Any:
    return next((row[n] for n in names if n in row and row[n] is not None), None)


def show_import_log(imports: pd.DataFrame) -> None:
    """The latest imports, newest first, each with its validation report on demand."""
    if imports.empty:
        st.caption("No imports recorded yet.")
        return
    for _, row in imports.iterrows():
        status = str(_first(row, ("status",)) or "unknown")
        at = _first(row, ("finished_at", "imported_at", "started_at", "created_at"))
        source = _first(row, ("source",)) or ""
        icon = STATUS_ICONS.get(status.lower(), ":material/info:")
        with st.expander(f"{when(at)} · {status} · {source}", icon=icon):
            report = _first(row, ("report", "report_json", "validation_report"))
            if report is not None:
                show_report(report)
            else:
                st.json(row.drop(labels=[c for c in row.index if c == "report"]).astype(str).to_dict())
