"""Reading an import's files: a folder of CSVs or a zip of them, within `Limits`, every cell a string.

Limits are checked before anything is decompressed or parsed; a file that cannot be read as the contract's
CSV tables raises ImportFileError naming the file and the problem (never quoting its content at length).
"""

from __future__ import annotations

import csv
import io
import os
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import pandas as pd

from services import progress


class ImportFileError(ValueError):
    """Input files that cannot be read as the contract's CSV tables (the message names the files)."""


# ----------------------------------------------------------------------------- limits
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one import may hold, checked before anything is decompressed or parsed (zip sizes come from
    the archive's directory, which zipfile also enforces while reading; rows are counted while parsing, which
    stops one row past the limit). Override with FORESIGHT_IMPORT_MAX_<FIELD> (sizes in MB)."""

    files: int = 100  # entries in a zip or folder
    file_mb: float = 2048.0  # uncompressed size of one CSV file
    total_mb: float = 4096.0  # uncompressed size of all files together
    ratio: float = 200.0  # uncompressed / compressed size of a zip member over 1 MB
    rows: int = 25_000_000  # data rows of one table

    @classmethod
    def from_env(cls) -> Limits:
        out = {}
        for name, default in cls().__dict__.items():
            raw = os.environ.get(f"FORESIGHT_IMPORT_MAX_{name.upper()}", "").strip()
            try:
                out[name] = type(default)(raw) if raw else default
            except ValueError:
                raise ImportFileError(f"FORESIGHT_IMPORT_MAX_{name.upper()}={raw!r} is not a number") from None
        return cls(**out)

    def describe(self) -> str:
        return (f"at most {self.files} files, {self.file_mb:g} MB per file and {self.total_mb:g} MB in all "
                f"(uncompressed), a compression ratio of {self.ratio:g}:1 per zip member, "
                f"{self.rows:,} rows per table")

    def check_sizes(self, where: str, sizes: list[tuple[str, int, int | None]]) -> None:
        """`sizes`: (name, uncompressed bytes, compressed bytes or None). Raise naming every limit broken."""
        problems = []
        if len(sizes) > self.files:
            problems.append(f"{where}: {len(sizes)} files, more than the limit of {self.files}")
        for name, size, packed in sizes:
            if size > self.file_mb * MB:
                problems.append(f"{name}: {size / MB:,.0f} MB uncompressed, over the limit of {self.file_mb:g} MB")
            if packed is not None and size > MB and size > self.ratio * max(packed, 1):
                problems.append(f"{name}: compressed {size / max(packed, 1):,.0f}:1, over the limit of "
                                f"{self.ratio:g}:1 (a zip bomb?)")
        total = sum(size for _, size, _ in sizes)
        if total > self.total_mb * MB:
            problems.append(f"{where}: {total / MB:,.0f} MB uncompressed in all, over the limit of "
                            f"{self.total_mb:g} MB")
        if problems:
            raise ImportFileError("; ".join(problems) + "; nothing was read")


# ----------------------------------------------------------------------------- reading
def _ignored(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _header(opener: Callable[[], IO[bytes]]) -> list[str]:
    """The header row as written (pandas renames a repeated column `x` to `x.1`; the contract must see it)."""
    with opener() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        return next(csv.reader([text.readline(1 * MB)]), [])


class _NulByte(Exception):
    pass


class _NulGuard(io.RawIOBase):
    """A reader that stops at the first NUL byte: pandas' parser would silently cut the cell there."""

    def __init__(self, inner: IO[bytes], tick: Callable[[int], None] | None = None) -> None:
        self.inner = inner
        self.tick = tick

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        if b"\x00" in data:
            raise _NulByte()
        if self.tick is not None:
            self.tick(len(data))
        buffer[:len(data)] = data
        return len(data)


class _Meter:
    """Bytes read of all the files of one import, reported as progress (stage "reading")."""

    def __init__(self, sizes: list[int]) -> None:
        self.total, self.done, self.parts = sum(sizes), 0, len(sizes)

    def file(self, name: str, part: int) -> Callable[[int], None]:
        def tick(n: int) -> None:
            self.done += n
            progress.report("reading", name, min(self.done, self.total), self.total, "bytes", part, self.parts)
        progress.report("reading", name, self.done, self.total, "bytes", part, self.parts)
        return tick


def _read_csv(label: str, opener: Callable[[], IO[bytes]], limits: Limits,
              tick: Callable[[int], None] | None = None) -> pd.DataFrame:
    """One CSV file, every cell a string; never more than `limits.rows` + 1 rows are parsed. A row with more
    cells than the header is refused (pandas would otherwise shift the row under an implicit index)."""
    try:
        with opener() as handle, warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BufferedReader(_NulGuard(handle, tick), MB), dtype=str, keep_default_na=False,
                                na_values=[""], encoding="utf-8-sig", nrows=limits.rows + 1, index_col=False)
        header = _header(opener)
    except _NulByte:
        raise ImportFileError(f"{label}: holds a NUL character (byte 0), which is not text; "
                              f"nothing was loaded") from None
    except pd.errors.EmptyDataError as exc:
        raise ImportFileError(f"{label}: the file is empty (no header row)") from exc
    except pd.errors.ParserWarning as exc:
        raise ImportFileError(f"{label}: a row has more cells than the header ({short(exc)})") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ImportFileError(f"{label}: cannot be read as a UTF-8 CSV file ({short(exc)})") from exc
    if len(frame) > limits.rows:
        raise ImportFileError(f"{label}: more than {limits.rows:,} rows, over the limit per table "
                              f"(FORESIGHT_IMPORT_MAX_ROWS); nothing was loaded")
    if len(header) == len(frame.columns) and len(set(header)) < len(header):
        frame.columns = [h.strip() for h in header]  # the contract reports the repeated names
    return frame


def short(exc: Exception) -> str:
    """A parser's message without the cell content it may quote (first line, at most 200 characters)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _collect(items: list[tuple[str, str]], where: str) -> dict[str, str]:
    """Map table name -> file name; raise one ImportFileError listing every problem."""
    problems, tables = [], {}
    for name, kind in items:
        if kind == "dir":
            problems.append(f"{name}: unexpected folder (put the CSV files directly in {where})")
        elif not name.lower().endswith(".csv"):
            problems.append(f"{name}: not a CSV file (expected <table>.csv)")
        else:
            table = PurePosixPath(name).stem.strip().lower()
            if table in tables:
                problems.append(f"{name}: table {table} given twice ({tables[table]})")
            tables[table] = name
    if not tables and not problems:
        problems.append(f"{where}: no CSV files found")
    if problems:
        raise ImportFileError("; ".join(problems))
    return tables


def read_csv_folder(path: str | Path, limits: Limits | None = None) -> dict[str, pd.DataFrame]:
    """Every `<table>.csv` in a folder, all cells as strings (empty cells as nulls)."""
    limits = limits or Limits.from_env()
    folder = Path(path)
    if not folder.is_dir():
        raise ImportFileError(f"{folder}: not a folder")
    entries = [p for p in sorted(folder.iterdir()) if not _ignored(p.name)]
    limits.check_sizes(str(folder), [(p.name, p.stat().st_size if p.is_file() else 0, None) for p in entries])
    tables = _collect([(p.name, "dir" if p.is_dir() else "file") for p in entries], str(folder))
    meter = _Meter([(folder / name).stat().st_size for name in tables.values()])
    return {table: _read_csv(str(folder / name), lambda p=folder / name: p.open("rb"), limits, meter.file(name, i))
            for i, (table, name) in enumerate(tables.items(), 1)}


def read_zip(data: bytes | str | Path, limits: Limits | None = None) -> dict[str, pd.DataFrame]:
    """Every `<table>.csv` in a zip (at its root or inside one top folder)."""
    limits = limits or Limits.from_env()
    label = "the zip file" if isinstance(data, bytes) else str(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{label}: not a readable zip file ({exc})") from exc
    with archive:
        infos = archive.infolist()
        limits.check_sizes(label, [(m.filename, m.file_size, m.compress_size) for m in infos if not m.is_dir()])
        unsafe = [m.filename for m in infos if m.filename.startswith(("/", "\\")) or ":" in m.filename
                  or ".." in PurePosixPath(m.filename.replace("\\", "/")).parts]
        if unsafe:
            raise ImportFileError(f"{label}: {', '.join(unsafe[:5])}: a path outside the archive (absolute or "
                                  f"with ..); nothing was read")
        members = [m for m in infos if not m.is_dir() and not _ignored(m.filename)]
        tops = {PurePosixPath(m.filename).parts[0] for m in members}
        strip = len(tops) == 1 and all(len(PurePosixPath(m.filename).parts) > 1 for m in members)
        by_name = {}
        for m in members:
            parts = PurePosixPath(m.filename).parts[1 if strip else 0:]
            by_name["/".join(parts)] = m
        items = [(n.split("/")[0], "dir") if "/" in n else (n, "file") for n in by_name]
        tables = _collect(sorted(set(items)), label)
        frames = {}
        meter = _Meter([by_name[name].file_size for name in tables.values()])
        for i, (table, name) in enumerate(tables.items(), 1):
            frames[table] = _read_csv(f"{label}: {name}", lambda m=by_name[name]: archive.open(m), limits,
                                      meter.file(name, i))
        return frames


def read_source(source: str | Path | bytes) -> dict[str, pd.DataFrame]:
    """A folder of CSVs, a zip file path or zip bytes."""
    if isinstance(source, bytes) or str(source).lower().endswith(".zip"):
        return read_zip(source)
    path = Path(source)
    if not path.exists():
        raise ImportFileError(f"{path}: no such file or folder")
    if path.is_file():
        if zipfile.is_zipfile(path):
            return read_zip(path)
        raise ImportFileError(f"{path}: expected a folder of CSV files or a .zip of them")
    return read_csv_folder(path)
