"""Foresight: page config, sign-in, navigation over `pages/` (by role), shared sidebar filters, the database
error boundary. Nothing else."""

from pathlib import Path

import streamlit as st

from ui.alerts import inbox_title
from ui.auth import can, sign_in
from ui.errors import database_errors
from ui.filters import sidebar_filters
from ui.health import health_banner

st.set_page_config(page_title="Foresight", page_icon=":material/insights:", layout="wide")
st.logo(str(Path(__file__).parent / "ui" / "assets" / "foresight.svg"), size="large")  # the sidebar says "Foresight"
with database_errors():  # sign-in reads the people table: the same one message when the database fails
    sign_in()

# Sections in the sidebar menu; add a page by adding one (permission, st.Page) line to its section.
PAGES = {
    "Company": [
        ("overview", st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True)),
    ],
    "Follow-up": [
        ("overview", st.Page("pages/inbox.py", title=inbox_title(), icon=":material/inbox:", url_path="inbox")),
        ("log_action", st.Page("pages/tasks.py", title="Tasks", icon=":material/task_alt:", url_path="tasks")),
    ],
    "Customers": [
        ("accounts", st.Page("pages/churn_risk.py", title="Churn risk", icon=":material/warning:")),
        ("accounts", st.Page("pages/account.py", title="Account", icon=":material/domain:")),
        ("accounts", st.Page("pages/adoption.py", title="Adoption", icon=":material/stacked_line_chart:")),
    ],
    "Sales": [
        ("forecast", st.Page("pages/forecast.py", title="Forecast", icon=":material/trending_up:")),
        ("expansion", st.Page("pages/where_to_grow.py", title="Where to grow", icon=":material/add_chart:")),
    ],
    "Models": [
        ("workbench", st.Page("pages/workbench.py", title="Workbench", icon=":material/handyman:")),
        ("model_health", st.Page("pages/model_health.py", title="Model health", icon=":material/monitor_heart:")),
    ],
    "Admin": [
        ("data", st.Page("pages/data.py", title="Data", icon=":material/database:")),
        ("audit", st.Page("pages/audit.py", title="Audit log", icon=":material/history:")),
    ],
}

allowed = {section: [page for permission, page in pages if can(permission)] for section, pages in PAGES.items()}
pg = st.navigation({section: pages for section, pages in allowed.items() if pages})
with database_errors():  # a lost or locked database: one clear message, no traceback
    sidebar_filters()
    health_banner()
    pg.run()
