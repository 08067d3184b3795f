"""Data: the import log with validation reports, a zip upload through the same contract, the contract itself."""

from __future__ import annotations

import streamlit as st

from services import audit
from services.contract import contract_markdown
from services.importer import ContractViolation, ImportFileError, ImportShrinkError, import_source
from ui import data
from ui.auth import who
from ui.reports import show_import_log, show_report
from ui.widgets import empty_state

st.title("Data")
url = data.current_url()
if not data.has_accounts(url):
    empty_state()

imports_tab, upload_tab, contract_tab = st.tabs(["Imports", "Upload", "Data contract"])

log_area = imports_tab.container()  # filled last, so that it includes an upload made in this run

with upload_tab:
    st.markdown(
        "Upload a **zip of CSV files**, one per contract table (`accounts.csv`, `subscriptions.csv`, ...). "
        "Every file is validated first; a clean upload replaces the contract tables in one transaction, "
        "a failed one changes nothing."
    )
    upload = st.file_uploader("Zip of CSV files", type=["zip"], key="upload_zip")
    allow_shrink = st.checkbox("Replace even if the upload holds far fewer rows than the stored data",
                               key="upload_allow_shrink")
    if upload is not None and st.button("Validate and import", type="primary", key="upload_import"):
        result = None
        try:
            with st.spinner("Validating and loading..."):
                result = import_source(upload.getvalue(), data.engine(), label=f"upload: {upload.name}",
                                       allow_shrink=allow_shrink)
        except ContractViolation as violation:
            st.error("The upload breaks the data contract; nothing was changed.", icon=":material/error:")
            show_report(violation.report)
        except ImportShrinkError as exc:
            st.warning(str(exc), icon=":material/warning:")
        except ImportFileError as exc:  # not a zip, not CSV files, ...
            st.error(f"Could not read the upload; nothing was changed. {exc}", icon=":material/error:")
        finally:
            data.clear()  # the import log changed either way
        if result is not None:
            audit.record(data.engine(), who(), "import", source=f"upload: {upload.name}", row_counts=result.row_counts)
            st.success("Imported. Rows loaded per table:", icon=":material/check_circle:")
            show_report(result)

with contract_tab:
    st.markdown(contract_markdown())

with log_area:
    show_import_log(data.recent_imports(url))
