"""What the app writes and shows cannot act: CSV cells never run as formulas (OWASP's rule, one helper for
every CSV), company strings are shown as text, never as markdown or chart HTML (one helper in ui/)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from services import db
from services.config import REPO_ROOT
from services.csv_out import restore, safe_frame, to_csv_bytes
from services.importer import import_source
from ui.text import html, md

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd",
           "'=already quoted", "''=twice", "plain", "-", "O'Brien", ""]


def test_formula_cells_are_neutralised_and_numbers_left_alone() -> None:
    df = pd.DataFrame({"name": HOSTILE, "n": range(len(HOSTILE)), "x": [-1.5] * len(HOSTILE)})
    out = safe_frame(df)
    for v in out["name"]:
        assert not v.startswith(("=", "+", "-", "@", "\t", "\r")), v
    assert out["name"].tolist()[8:] == ["plain", "'-", "O'Brien", ""]
    assert out["x"].tolist() == df["x"].tolist() and out["n"].tolist() == df["n"].tolist()
    assert restore(out["name"]).tolist() == HOSTILE  # exactly reversible
    text = to_csv_bytes(df).decode()
    assert "\n\"'=HYPERLINK" in text and "\n'@SUM" in text and ",-1.5" in text


def test_export_neutralises_and_imports_back_unchanged(db_url: str, engine, valid_frames, csv_folder,
                                                       tmp_path: Path) -> None:
    valid_frames["accounts"]["name"] = HOSTILE[:3]
    import_source(csv_folder(valid_frames), engine)
    before = db.read_table("accounts", engine)
    out = tmp_path / "export"
    subprocess.run([sys.executable, "-m", "services.cli", "--database-url", db_url, "export", str(out)], cwd=REPO_ROOT,
                   check=True, capture_output=True)
    raw = pd.read_csv(out / "accounts.csv", dtype=str, keep_default_na=False)
    assert raw["name"].tolist() == ["'" + v for v in HOSTILE[:3]]
    import_source(out, engine)
    pd.testing.assert_frame_equal(db.read_table("accounts", engine), before)


@pytest.mark.parametrize("value", ["[Click to re-login](https://evil.example)", "![x](https://evil.example/p.png)",
                                   "**bold** _it_ `code`", ":red[alarm] :material/warning:", "# Title\n- item",
                                   "<img src=x onerror=alert(1)>", "a\\b"])
def test_markdown_helper_escapes_every_markup_character(value: str) -> None:
    out = md(value)
    assert "\n" not in out
    unescaped = [ch for i, ch in enumerate(out) if ch in "[]()!*_`:#<>-\\" and (i == 0 or out[i - 1] != "\\")
                 and not (i + 1 < len(out) and ch == "\\")]
    assert not unescaped, (out, unescaped)
    assert out.replace("\\", "") == value.replace("\n", " ").replace("\\", "")


def test_html_helper_escapes_chart_text() -> None:
    assert html('<a href="https://evil">x</a>') == "&lt;a href=&quot;https://evil&quot;&gt;x&lt;/a&gt;"


def _calls(path: Path, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
            and getattr(n.func, "attr", getattr(n.func, "id", None)) == name]


def test_every_download_button_goes_through_the_csv_helper() -> None:
    files = sorted([*(REPO_ROOT / "pages").rglob("*.py"), *(REPO_ROOT / "ui").rglob("*.py")])
    buttons = [(p, c) for p in files for c in _calls(p, "download_button")]
    assert buttons, "no download button found: the check would pass vacuously"
    for p, call in buttons:
        data = call.args[1] if len(call.args) > 1 else next(k.value for k in call.keywords if k.arg == "data")
        if isinstance(data, ast.Call) and getattr(data.func, "id", None) == "partial":  # built on click
            data = ast.Call(func=data.args[0], args=data.args[1:], keywords=[])
        assert isinstance(data, ast.Call) and getattr(data.func, "id", None) == "to_csv_bytes", p
    assert not [p for p in files if _calls(p, "to_csv")], "pages and ui write CSV only through to_csv_bytes"
