"""Figures in captions come from the stored model metrics or the one constant, never from a page's text."""
from __future__ import annotations

import ast
import re

import pytest

from services.config import REPO_ROOT
from services.monitoring import drift
from ui import captions

# a percentage, a number of days or a PSI cut-off written into a string
TYPED_FIGURE = re.compile(r"(?<![.\w:])\d+(\.\d+)?\s*%|\b\d+[- ]days?\b|\bPSI\s*[>≥]\s*\d")


def _strings(path):
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_figure_typed_into_page_or_ui_text() -> None:
    hits = [f"{p.relative_to(REPO_ROOT)}:{line}: {text!r}"
            for p in sorted([*(REPO_ROOT / "pages").rglob("*.py"), *(REPO_ROOT / "ui").rglob("*.py")])
            for line, text in _strings(p) if TYPED_FIGURE.search(text)]
    assert not hits, "\n".join(hits)


def test_tiers_caption_follows_the_stored_cut_offs() -> None:
    assert captions.tiers({"tiers": {"high": 0.3, "medium": 0.12, "low": 0.0}}) == "tiers: high ≥ 30%, medium ≥ 12%"
    assert captions.tiers({"tiers": [["medium", 0.05], ["high", 0.5], ["low", 0]]}) == "tiers: high ≥ 50%, medium ≥ 5%"
    assert captions.tiers({}) == "tiers: high ≥ 25%, medium ≥ 10%"  # the declared TIERS


def test_psi_caption_follows_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    assert captions.psi_flag() == f"PSI > {drift.THRESHOLD:g}"
    monkeypatch.setattr(captions, "THRESHOLD", 0.25)
    assert captions.psi_flag() == "PSI > 0.25"
