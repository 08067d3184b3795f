"""Foresight: page config, navigation over `pages/`, shared sidebar filters, the database error boundary."""

import streamlit as st

from ui.errors import database_errors
from ui.filters import sidebar_filters
from ui.health import health_banner

st.set_page_config(page_title="Foresight", page_icon=":material/insights:", layout="wide")

# Sections in the sidebar menu; add a page by adding one st.Page line to its section.
PAGES = {
    "Company": [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    ],
    "Customers": [
        st.Page("pages/churn_risk.py", title="Churn risk", icon=":material/warning:"),
        st.Page("pages/account.py", title="Account", icon=":material/domain:"),
        st.Page("pages/adoption.py", title="Adoption", icon=":material/stacked_line_chart:"),
    ],
    "Sales": [
        st.Page("pages/forecast.py", title="Forecast", icon=":material/trending_up:"),
        st.Page("pages/where_to_grow.py", title="Where to grow", icon=":material/add_chart:"),
        st.Page("pages/workbench.py", title="Workbench", icon=":material/handyman:"),
    ],
    "Admin": [
        st.Page("pages/model_health.py", title="Model health", icon=":material/monitor_heart:"),
        st.Page("pages/data.py", title="Data", icon=":material/database:"),
    ],
}

pg = st.navigation({section: pages for section, pages in PAGES.items() if pages})
with database_errors():  # a lost or locked database: one clear message, no traceback
    sidebar_filters()
    health_banner()
    pg.run()
