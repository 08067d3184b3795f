"""Which process owns a long-running job (an import, a training run), and whether it is still alive.

A job records `stamp()` when it starts; a later start that finds the job still marked running asks
`alive(stamp)`: on the same host a process id that no longer exists means the job was killed or crashed.
A stamp from another host is taken as alive (we cannot tell)."""
from __future__ import annotations

import json
import os
import socket
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
    return True
