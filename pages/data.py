"""Data: the import log with validation reports, a zip upload through the same contract (previewed, then
confirmed), the contract itself."""

from __future__ import annotations

import os
import subprocess
import sys

import streamlit as st

from services import audit, contract
from services.config import REPO_ROOT
from services.contract import contract_markdown
from services.import_files import read_source
from services.import_preview import preview
from services.importer import ContractViolation, ImportFileError, import_source, record_failure
from ui import data
from ui.auth import can, who
from ui.health import models_older_than_data
from ui.reports import show_import_log, show_report
from ui.text import md
from ui.widgets import empty_state, when

PREVIEW = "upload_preview"
FLASH = "upload_flash"

st.title("Data")
url = data.current_url()
if not data.has_accounts(url):
    empty_state()

flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash, icon=":material/check_circle:")
older = models_older_than_data(url)
if older is not None:
    st.warning(f"The models are older than the data: the last import finished {when(older)}, after the latest "
               "training run. Pages show scores and forecasts made from the data before it until the models "
               "are retrained.", icon=":material/update:")
    if can("manage_models"):
        if st.button("Retrain the models now", key="data_retrain", icon=":material/model_training:"):
            log_path = REPO_ROOT / "data" / "train-from-page.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as out:  # a job, not a page: it runs on after this rerun
                subprocess.Popen([sys.executable, "-m", "services.cli", "train"], cwd=REPO_ROOT, stdout=out,
                                 stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)
            audit.record(data.engine(), who(), "train_requested", source="data page")
            st.info("Training started in the background (a few minutes); the models list on *Model health* "
                    f"shows the new versions when it is done. Progress: `{log_path}`.", icon=":material/schedule:")
    else:
        st.caption("Ask a data scientist to retrain (`python -m services.cli train`).")

imports_tab, upload_tab, contract_tab = st.tabs(["Imports", "Upload", "Data contract"])

log_area = imports_tab.container()  # filled last, so that it includes an upload made in this run


def _check(upload) -> None:
    """Read and validate the upload, and keep what it would change; a failure is logged and changes nothing."""
    label = f"upload: {upload.name}"
    st.session_state.pop(PREVIEW, None)
    engine = data.engine()
    try:
        with st.spinner("Reading and validating the upload..."):
            frames = read_source(upload.getvalue())
            report = contract.validate(frames)
            if not report.ok:
                record_failure(engine, label, report)
                raise ContractViolation(report)
            changes = preview(report.frames, engine)
        st.session_state[PREVIEW] = {"name": upload.name, "size": upload.size, "changes": changes}
    except ContractViolation as violation:
        st.error("The upload breaks the data contract; nothing was changed.", icon=":material/error:")
        show_report(violation.report)
    except ImportFileError as exc:  # not a zip, not CSV files, ...
        record_failure(engine, label, error=str(exc))
        st.error(f"Could not read the upload; nothing was changed. {exc}", icon=":material/error:")
    finally:
        data.clear()  # the import log changed either way


def _confirm(upload) -> None:
    result = None
    try:
        with st.spinner("Replacing the data..."):
            result = import_source(upload.getvalue(), data.engine(), label=f"upload: {upload.name}",
                                   allow_shrink=True)  # the person saw what it removes and confirmed
    except ContractViolation as violation:
        st.error("The upload breaks the data contract; nothing was changed.", icon=":material/error:")
        show_report(violation.report)
    except ImportFileError as exc:
        st.error(f"Could not read the upload; nothing was changed. {exc}", icon=":material/error:")
    finally:
        data.clear()
        st.session_state.pop(PREVIEW, None)
    if result is not None:
        audit.record(data.engine(), who(), "import", source=f"upload: {upload.name}", row_counts=result.row_counts)
        total = sum(result.row_counts.values())
        st.session_state[FLASH] = f"Imported {md(upload.name)}: {total:,} rows in {len(result.row_counts)} tables."
        st.rerun()  # the banner, the import log and the models-older note read the new state


with upload_tab:
    st.markdown(
        "Upload a **zip of CSV files**, one per contract table (`accounts.csv`, `subscriptions.csv`, ...). "
        "Every file is validated first and you see what would change before anything does; a confirmed "
        "upload replaces the contract tables in one transaction, a failed one changes nothing."
    )
    upload = st.file_uploader("Zip of CSV files", type=["zip"], key="upload_zip")
    if upload is not None and st.button("Check the upload", type="primary", key="upload_import"):
        _check(upload)
    pending = st.session_state.get(PREVIEW)
    if upload is None:
        st.session_state.pop(PREVIEW, None)
    elif pending and pending["name"] == upload.name and pending["size"] == upload.size:
        changes = pending["changes"]
        added, removed, changed = (int(changes[c].sum()) for c in ("added", "removed", "changed"))
        st.markdown(f"**What this upload changes:** {added:,} rows added, {removed:,} removed, {changed:,} "
                    "changed. Every contract table is replaced by the upload's version.")
        moved = changes[(changes[["added", "removed", "changed"]].sum(axis=1) > 0)
                        | (changes.stored != changes.incoming)]
        st.dataframe(changes, hide_index=True, width="stretch", key="upload_changes", column_config={
            "table": "Table", "stored": st.column_config.NumberColumn("Rows now", format="localized"),
            "incoming": st.column_config.NumberColumn("Rows in upload", format="localized"),
            "added": st.column_config.NumberColumn("Added", format="localized"),
            "removed": st.column_config.NumberColumn("Removed", format="localized"),
            "changed": st.column_config.NumberColumn("Changed", format="localized")})
        if moved.empty:
            st.info("The upload holds the same rows as the stored data: importing changes nothing.",
                    icon=":material/info:")
        shrink = changes.stored.sum() and changes.incoming.sum() < changes.stored.sum() / 2
        if shrink:
            st.warning(f"The upload holds far fewer rows than the stored data ({int(changes.incoming.sum()):,} "
                       f"against {int(changes.stored.sum()):,}).", icon=":material/warning:")
        c1, c2 = st.columns(2)
        if c1.button("Replace the data with this upload", type="primary", key="upload_confirm"):
            _confirm(upload)
        if c2.button("Cancel", key="upload_cancel"):
            st.session_state.pop(PREVIEW, None)
            st.rerun()

with contract_tab:
    st.markdown(contract_markdown())

with log_area:
    show_import_log(data.recent_imports(url))
