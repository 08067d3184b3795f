"""Serve the app: `python -m ui.serve [options]` is `streamlit run app.py [options]`, made safe for `pages/`.

Streamlit decides once per process whether a folder named `pages/` beside the main script means its
legacy multipage mode, and only `st.navigation` switches that off. On a fresh server, a first visit
straight to a page URL (e.g. a bookmark of /data) would run that page script alone, without app.py's
navigation and sidebar filters. This launcher switches the legacy mode off before the server starts.

It also applies the sign-in rules before serving (see services/auth.py): with no `[auth]` section in the
secrets the app runs in demo mode, where anyone can pick who to be, so it listens on 127.0.0.1 only; with
FORESIGHT_AUTH=oidc and no `[auth]` it refuses to start.
"""

from __future__ import annotations

import logging
import os
import sys
import tomllib
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

from services.auth import auth_mode
from services.config import REPO_ROOT

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"


def navigation_only() -> None:
    """Treat `pages/` as plain scripts for `st.navigation`, never as legacy auto-discovered pages."""
    PagesManager.uses_pages_directory = False


def _option(argv: list[str], name: str) -> list[str]:
    """Values of `--name VALUE` / `--name=VALUE` in argv."""
    out = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    return out + [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]


def _without(argv: list[str], name: str) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == name:
            skip = True
        elif not a.startswith(f"{name}="):
            out.append(a)
    return out


def auth_configured(argv: list[str]) -> bool:
    """Whether any secrets file Streamlit will read has an `[auth]` section."""
    files = _option(argv, "--secrets.files") or [str(REPO_ROOT / ".streamlit" / "secrets.toml"),
                                                  str(Path.home() / ".streamlit" / "secrets.toml")]
    for name in files:
        path = Path(name)
        if path.is_file():
            with path.open("rb") as fh:
                if tomllib.load(fh).get("auth"):
                    return True
    return False


def server_args(argv: list[str], environ: dict[str, str] | None = None) -> list[str]:
    """The arguments to serve with: demo mode pinned to the loopback address (RuntimeError: refused)."""
    environ = os.environ if environ is None else environ
    if auth_mode(auth_configured(argv), environ.get("FORESIGHT_AUTH")) == "oidc":
        return argv
    asked = _option(argv, "--server.address")
    if any(a != LOOPBACK for a in asked):
        log.warning("demo mode (no [auth] configured) serves on %s only, not %s", LOOPBACK, ", ".join(asked))
    return [*_without(argv, "--server.address"), "--server.address", LOOPBACK]


def main(argv: list[str]) -> None:
    navigation_only()
    try:
        argv = server_args(argv)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.argv = ["streamlit", "run", str(REPO_ROOT / "app.py"), *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
