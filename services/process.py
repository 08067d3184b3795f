"""Which process owns a long-running job (an import, a training run), and whether it is still alive.

A job records `stamp()` when it starts; a later start that finds the job still marked running asks
`alive(stamp)`: on the same host a process id that no longer exists means the job was killed or crashed.
A stamp from another host is taken as alive (we cannot tell). A zombie (a child that has ended but that its parent,
the Streamlit server say, has not reaped yet) has ended."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any


def stamp() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def alive(owner: dict[str, Any] | str | None) -> bool:
    """False when `owner` (a stamp, or JSON holding one) names a process of this host that has ended."""
    if isinstance(owner, str):
        try:
            owner = json.loads(owner)
        except ValueError:
            return False
    if not isinstance(owner, dict) or "pid" not in owner:
        return False
    if owner.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return not _zombie(int(owner["pid"]))


def _zombie(pid: int) -> bool:
    """True when `pid` has ended and waits to be reaped (Linux /proc; elsewhere never known, so False)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
