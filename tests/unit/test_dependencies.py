"""requirements.txt declares what the code uses: every direct dependency is imported (or is a plugin, driver or
tool named below), and the pins are exactly the direct dependencies and what they pull in."""
from __future__ import annotations

import ast
import re
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement

from services.config import REPO_ROOT

IMPORT_NAME = {"ibis-framework": "ibis", "scikit-learn": "sklearn", "sqlalchemy": "sqlalchemy", "psycopg2-binary": "psycopg2"}
NOT_IMPORTED = {  # declared for a reason other than an import
    "psycopg2-binary": "PostgreSQL driver, loaded by SQLAlchemy for postgresql+psycopg2 URLs",
    "pytest-xdist": "pytest plugin (-n)",
    "pytest-timeout": "pytest plugin (--timeout: a hung browser test fails instead of stalling CI)",
    "ruff": "the linter (make lint)",
    "authlib": "st.login's OpenID Connect, loaded by Streamlit",
    "oidc-provider-mock": "the e2e sign-in test's identity provider (pytest.importorskip)",
    "duckdb": "the default analytical engine, loaded by ibis.duckdb",
    "pyarrow-hotfix": "loaded by ibis' Arrow formats",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_dependencies() -> list[str]:
    header = []
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("# "))
    text = " ".join(header)
    listed = text.split("Direct dependencies:")[1].split(". Each")[0]
    names = re.findall(r"([A-Za-z][A-Za-z0-9_.\-]*)(?:\s*\([^)]*\))?", listed.replace("/", ", "))
    return [_norm(n) for n in names]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            out[_norm(name)] = version
    return out


def imported_top_level() -> set[str]:
    names: set[str] = set()
    for folder in ("app.py", "services", "models", "ui", "pages", "tests", "bench"):
        path = REPO_ROOT / folder
        for p in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


def test_every_direct_dependency_is_used() -> None:
    direct = direct_dependencies()
    assert {"streamlit", "lightgbm", "shap", "pandera", "ruff"} <= set(direct), direct
    imported = imported_top_level()
    unused = [d for d in direct if d not in NOT_IMPORTED and IMPORT_NAME.get(d, d.replace("-", "_")) not in imported]
    assert not unused, f"declared but never imported: {unused}"
    assert set(direct) <= set(pins()), "every direct dependency is pinned"


def test_pins_are_the_direct_dependencies_and_what_they_pull_in() -> None:
    pinned = pins()
    seen: set[str] = set()
    todo = list(direct_dependencies())
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for spec in requires:
            r = Requirement(spec)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(_norm(r.name))
    assert not set(pinned) - seen, f"pinned but nothing needs them: {sorted(set(pinned) - seen)}"
    assert not seen - set(pinned), f"needed but not pinned: {sorted(seen - set(pinned))}"
