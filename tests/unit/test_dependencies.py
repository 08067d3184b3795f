"""requirements.txt (runtime) and requirements-dev.txt (test and lint tools) declare what the code uses: every
direct dependency is imported (or is a plugin, driver or tool named below), the runtime pins are exactly its
direct dependencies and what they pull in, the dev pins exactly what the tools pull in beyond the runtime, and
the app itself imports nothing from the dev file."""
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


RUNTIME, DEV = "requirements.txt", "requirements-dev.txt"


def direct_dependencies(file: str = RUNTIME) -> list[str]:
    header = []
    for line in (REPO_ROOT / file).read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("# "))
    text = " ".join(header)
    listed = text.split("Direct dependencies:")[1].split(". Each")[0]
    names = re.findall(r"([A-Za-z][A-Za-z0-9_.\-]*)(?:\s*\([^)]*\))?", listed.replace("/", ", "))
    return [_norm(n) for n in names]


def pins(file: str = RUNTIME) -> dict[str, str]:
    out = {}
    for line in (REPO_ROOT / file).read_text().splitlines():
        if line and not line.startswith(("#", "-r ")):
            name, version = line.split("==")
            out[_norm(name)] = version
    return out


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
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
    return seen


def imported_top_level() -> set[str]:
    return imported_by(("app.py", "services", "models", "ui", "pages", "tests", "bench"))


def imported_by(folders: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for folder in folders:
        path = REPO_ROOT / folder
        for p in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


def _import_name(d: str) -> str:
    return IMPORT_NAME.get(d, d.replace("-", "_"))


def test_every_direct_dependency_is_used() -> None:
    runtime, dev = direct_dependencies(RUNTIME), direct_dependencies(DEV)
    assert {"streamlit", "lightgbm", "shap", "pandera"} <= set(runtime), runtime
    assert {"pytest", "ruff", "playwright"} <= set(dev), dev
    imported = imported_top_level()
    unused = [d for d in runtime + dev if d not in NOT_IMPORTED and _import_name(d) not in imported]
    assert not unused, f"declared but never imported: {unused}"
    assert set(runtime) <= set(pins(RUNTIME)) and set(dev) <= set(pins(DEV)), "every direct dependency is pinned"


def test_the_app_needs_no_test_or_lint_tool() -> None:
    app = imported_by(("app.py", "services", "models", "ui", "pages"))
    dev_only = set(pins(DEV))
    leaked = sorted(d for d in dev_only if _import_name(d) in app)
    assert not leaked, f"the app imports packages only requirements-dev.txt installs: {leaked}"
    assert not set(pins(RUNTIME)) & dev_only, "a package pinned in both files"
    assert "-r requirements.txt" in (REPO_ROOT / DEV).read_text().splitlines()


def test_pins_are_the_direct_dependencies_and_what_they_pull_in() -> None:
    runtime = _closure(direct_dependencies(RUNTIME))
    pinned = set(pins(RUNTIME))
    assert not pinned - runtime, f"pinned but nothing needs them: {sorted(pinned - runtime)}"
    assert not runtime - pinned, f"needed but not pinned: {sorted(runtime - pinned)}"
    dev = _closure(direct_dependencies(DEV)) - runtime
    dev_pinned = set(pins(DEV))
    assert not dev_pinned - dev, f"dev-pinned but no tool needs them beyond the runtime: {sorted(dev_pinned - dev)}"
    assert not dev - dev_pinned, f"the tools need these, pinned nowhere: {sorted(dev - dev_pinned)}"
