"""Serve the app: `python -m ui.serve [options]` is `streamlit run app.py [options]`, made safe for `pages/`.

Streamlit decides once per process whether a folder named `pages/` beside the main script means its
legacy multipage mode, and only `st.navigation` switches that off. On a fresh server, a first visit
straight to a page URL (e.g. a bookmark of /data) would run that page script alone, without app.py's
navigation and sidebar filters. This launcher switches the legacy mode off before the server starts.
"""

from __future__ import annotations

import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

from services.config import REPO_ROOT


def navigation_only() -> None:
    """Treat `pages/` as plain scripts for `st.navigation`, never as legacy auto-discovered pages."""
    PagesManager.uses_pages_directory = False


def main(argv: list[str]) -> None:
    navigation_only()
    sys.argv = ["streamlit", "run", str(REPO_ROOT / "app.py"), *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
