"""Data: the import log with validation reports, a zip upload through the same contract (checked, previewed,
then confirmed; both steps run in a worker process, services.import_worker), the contract itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import streamlit as st

from services import audit, import_worker, joblock
from services.config import REPO_ROOT
from services.contract import contract_markdown
from services.importer import record_failure
from ui import data
from ui.auth import can, who
from ui.health import models_older_than_data
from ui.reports import show_import_log, show_report
from ui.text import md
from ui.widgets import empty_state, when

PREVIEW = "upload_preview"  # the check's result: what the upload changes, waiting for confirmation
FLASH = "upload_flash"
JOB = "upload_job"  # the running worker (services.import_worker) of this session
OUTCOME = "upload_outcome"  # why the last check or import changed nothing

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


def _label(name: str) -> str:
    return f"upload: {name}"


def _refusal(mode: str) -> str | None:
    """Why an upload worker cannot start now (another upload is checked or imported, a training run or a
    refresh holds the data), naming what runs; None when it can."""
    engine = data.engine()
    for name, purposes in ((joblock.UPLOAD, ("check", "import")), (joblock.NAME, ("import",))):
        if mode not in purposes:
            continue
        busy = joblock.holder(engine, name)
        if busy is not None:
            return (f"{joblock.describe(busy['purpose'], busy['owner'], busy['acquired_at'])} is using the "
                    f"{'data' if name == joblock.NAME else 'upload worker'}; this {mode} did not start")
    return None


def _start(upload, mode: str, folder: str | None = None) -> None:
    """Start the worker on the upload (a check, or the confirmed import); it runs in its own process."""
    if not can("data"):
        st.error("Only the data owner or an admin can load data.", icon=":material/lock:")
        return
    st.session_state.pop(OUTCOME, None)
    reason = _refusal(mode)
    if reason is not None:
        if mode == "import":  # logged as every refused import is; the upload is checked again next time
            record_failure(data.engine(), _label(upload.name), error=f"the import was refused: {reason}")
            import_worker.discard(folder)
            data.clear()
        st.session_state[OUTCOME] = {"name": upload.name, "size": upload.size, "mode": mode,
                                     "result": {"status": "busy", "error": reason}}
        return
    if folder is None:
        folder = str(import_worker.save_upload(upload.getvalue()))
    job = import_worker.start(folder, mode, _label(upload.name), who(), data.current_url(), allow_shrink=True)
    st.session_state[JOB] = {**job, "name": upload.name, "size": upload.size}


def _finish(job: dict, result: dict) -> None:
    """A worker ended: keep what the person must see (the changes to confirm, or why nothing changed)."""
    st.session_state.pop(JOB, None)
    data.clear()  # the import log changed either way
    kept = {"name": job["name"], "size": job["size"], "mode": job["mode"], "result": result}
    if job["mode"] == "check" and result.get("status") == "checked":
        st.session_state[PREVIEW] = {"name": job["name"], "size": job["size"], "dir": job["dir"],
                                     "changes": pd.DataFrame(result["changes"])}
        return
    import_worker.discard(job)  # the upload is not needed any more
    if job["mode"] == "import" and result.get("status") == "success":
        audit_counts = result.get("row_counts") or {}
        total = sum(audit_counts.values())
        st.session_state[FLASH] = (f"Imported {md(job['name'])}: {total:,} rows in {len(audit_counts)} tables.")
        return
    st.session_state[OUTCOME] = kept


@st.fragment(run_every=1.0)
def _watch() -> None:
    """The running worker's progress, redrawn every second; the whole page reruns when it has ended."""
    job = st.session_state.get(JOB)
    if job is None:
        return
    state = import_worker.poll(job)
    if state["state"] == "done":
        st.rerun()  # the page shows the result (and the import log reads it)
    step = state["progress"]
    doing = "Importing" if job["mode"] == "import" else "Checking"
    st.progress(import_worker.fraction(step, job["mode"]),
                text=f"{doing} {md(job['name'])}: {md(import_worker.words(step, job['mode']))}")
    st.caption("This runs in a separate worker process: you can leave the page, the import log records "
               "the outcome.")


def _show_outcome(outcome: dict) -> None:
    result, mode = outcome["result"], outcome["mode"]
    status, error = result.get("status"), md(result.get("error") or "")
    doing = "import" if mode == "import" else "check"
    if status == "refused":
        st.error("The upload breaks the data contract; nothing was changed.", icon=":material/error:")
        show_report(result.get("report"))
    elif status == "unreadable":
        st.error(f"Could not read the upload; nothing was changed. {error}", icon=":material/error:")
    elif status == "busy":
        st.error(f"The {doing} was refused: {error}. Nothing was changed; try again when it has finished.",
                 icon=":material/lock_clock:")
    elif status == "interrupted":
        st.error(f"The {doing} was interrupted: {error}. The import log records it as interrupted.",
                 icon=":material/error:")
    else:
        st.error(f"The {doing} failed: {error}.", icon=":material/error:")


with upload_tab:
    st.markdown(
        "Upload a **zip of CSV files**, one per contract table (`accounts.csv`, `subscriptions.csv`, ...). "
        "Every file is validated first and you see what would change before anything does; a confirmed "
        "upload replaces the contract tables in one transaction, a failed one changes nothing. Checking and "
        "importing run in a separate worker process, with a progress bar."
    )
    upload = st.file_uploader("Zip of CSV files", type=["zip"], key="upload_zip") if can("data") else None
    if not can("data"):
        st.info("Only the data owner or an admin can load data.", icon=":material/lock:")
    job = st.session_state.get(JOB)
    if job is not None:
        state = import_worker.poll(job)
        if state["state"] == "done":
            _finish(job, state["result"])
            if st.session_state.get(FLASH):
                st.rerun()  # the banner, the import log and the models-older note read the new state
    pending = st.session_state.get(PREVIEW)
    outcome = st.session_state.get(OUTCOME)
    same = (lambda kept: kept is not None and upload is not None and kept["name"] == upload.name
            and kept["size"] == upload.size)
    if pending and not same(pending):  # another upload, or none: forget the last one's check
        import_worker.discard(pending.get("dir"))
        st.session_state.pop(PREVIEW, None)
        pending = None
    if outcome and not same(outcome):
        st.session_state.pop(OUTCOME, None)
        outcome = None
    if st.session_state.get(JOB) is not None:
        _watch()
    elif upload is not None:
        if st.button("Check the upload", type="primary", key="upload_import"):
            if pending:
                import_worker.discard(pending.get("dir"))
                st.session_state.pop(PREVIEW, None)
            _start(upload, "check")
            st.rerun()
        if outcome:
            _show_outcome(outcome)
        elif pending:
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
                st.session_state.pop(PREVIEW, None)
                _start(upload, "import", pending["dir"])
                st.rerun()
            if c2.button("Cancel", key="upload_cancel"):
                import_worker.discard(pending.get("dir"))
                st.session_state.pop(PREVIEW, None)
                st.rerun()

with contract_tab:
    st.markdown(contract_markdown())

with log_area:
    show_import_log(data.recent_imports(url))
