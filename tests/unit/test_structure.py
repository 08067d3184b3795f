"""The house rules of the capability packages, checked on the source (see ../shared/ARCHITECTURE.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from services import registry, results
from services.config import REPO_ROOT

CAPABILITIES = ("adoption", "alerts", "churn", "explain", "forecast", "monitoring", "outcomes")


def _py(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO_ROOT / f).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_docs_results_md_is_generated_from_the_declarations() -> None:
    doc = (REPO_ROOT / "docs" / "results.md").read_text()
    assert doc == results.results_markdown(), "run `python -m services.results > docs/results.md`"


def test_one_package_per_capability_with_its_tables() -> None:
    for cap in CAPABILITIES:
        assert (REPO_ROOT / "services" / cap / "tables.py").exists(), cap
    assert len({t.name for t in results.all_tables()}) == len(results.all_tables())


def test_read_sides_never_import_a_job() -> None:
    readers = [*(REPO_ROOT / "services").glob("*/read.py"), *(REPO_ROOT / "services").glob("*/scorecard.py"),
               *_py("ui", "pages")]
    bad = {str(p.relative_to(REPO_ROOT)): sorted(i for i in _imports(p) if i.endswith(".job") or
                                                 i == "services.jobs" or ".job." in i)
           for p in readers}
    assert not {k: v for k, v in bad.items() if v}


def test_no_result_table_name_written_outside_its_tables_py() -> None:
    names = {t.name for t in results.all_tables()}
    hits = []
    for p in _py("services", "ui", "pages"):
        if p.name == "tables.py" or "simulator" in p.parts:
            continue
        tree = ast.parse(p.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                words = set(node.value.replace('"', " ").split())
                if node.value in names or words & names and ("FROM" in node.value or "JOIN" in node.value):
                    hits.append(f"{p.relative_to(REPO_ROOT)}:{node.lineno} {node.value[:60]!r}")
    assert not hits


def test_write_results_checks_the_declaration(engine) -> None:
    from services.churn import tables as T

    version = registry.new_version("churn", pd.Timestamp("2025-06-30"))
    with pytest.raises(ValueError, match="undeclared columns"):
        registry.write_results(engine, T.REASONS, pd.DataFrame({"account_id": ["A"], "feature": ["f"], "group": ["g"],
                                                                "contribution": [0.1], "reason": ["r"], "rank": [1],
                                                                "typo": [1]}), version)
    with pytest.raises(ValueError, match="missing declared columns"):
        registry.write_results(engine, T.REASONS, pd.DataFrame({"account_id": ["A"]}), version)
