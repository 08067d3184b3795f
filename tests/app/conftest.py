"""AppTest fixtures: a small demo company in a temporary SQLite file, and the app pointed at it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fixtures import demo_db
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from ui.serve import navigation_only

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = str(REPO_ROOT / "app.py")
TIMEOUT_S = 60


@pytest.fixture(autouse=True)
def _navigation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run app.py on every rerun, as a live server does (see ui/serve.py).

    AppTest resets Streamlit's legacy `pages/` folder detection before each run, so without this
    every rerun after the first would run the page script alone, without app.py's sidebar.
    """
    original = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        navigation_only()

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture()
def demo_db_url(demo_copy: Callable[[demo_db.DemoSpec], str]) -> str:
    """A private copy of the small untrained demo, set as FORESIGHT_DATABASE_URL for this test."""
    return demo_copy(demo_db.UNTRAINED)


@pytest.fixture()
def empty_db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("FORESIGHT_DATABASE_URL", url)
    return url


@pytest.fixture()
def run_app() -> Callable[[str | None], AppTest]:
    """`run_app("pages/data.py")`: run app.py, switch to a page (None: the default page) and run it."""

    def _run(page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
        if page is not None:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return _run
