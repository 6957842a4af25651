"""One study, one writer: an exclusive lock file in the output directory.

The lock is ``.emstat.lock``, created with ``O_CREAT | O_EXCL`` (atomic on
local filesystems and on NFS v3+), holding the owner's pid, host and process
start time.  A second run while the owner lives is refused with a line naming
it; a lock left by a killed run on this host (its pid no longer alive, or now
another process) is broken with a warning.  A lock from another host is never
broken: this host cannot tell whether that run still lives.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emstat.errors import InputError
from emstat.simulation.errors import StudyWarning

__all__ = ["LOCK_NAME", "acquire", "release", "study_lock"]

LOCK_NAME = ".emstat.lock"


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), to tell reused pids."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so split after its ")".
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    """Whether ``pid`` is still the process that took the lock."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    now = _start_time(pid)
    return started is None or now is None or now == started


def _owner(path: Path) -> dict[str, Any] | None:
    """The lock's content, or None when it vanished or is unreadable (being written)."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _describe(owner: dict[str, Any]) -> str:
    return f"pid {owner.get('pid')} on {owner.get('host')}"


def _try_create(path: Path, payload: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(payload))
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _is_stale(owner: dict[str, Any], host: str) -> bool:
    pid = owner.get("pid")
    if owner.get("host") != host or isinstance(pid, bool) or not isinstance(pid, int):
        return False
    return pid != os.getpid() and not _alive(pid, owner.get("started"))


def acquire(directory: Path) -> Path:
    """Take the lock of ``directory`` (which must exist); return the lock's path.

    Raises
    ------
    InputError
        When another live run (or a run on another host) holds the lock.
    """
    path = directory / LOCK_NAME
    host = socket.gethostname()
    payload = {"pid": os.getpid(), "host": host, "started": _start_time(os.getpid())}
    for _ in range(3):  # a stale lock broken, or a lock vanishing as it is read, retries
        if _try_create(path, payload):
            return path
        owner = _owner(path)
        if owner is None:
            if path.exists():
                raise InputError(
                    f"{str(directory)!r} is locked by {str(path)!r}, which cannot be read; "
                    "if no run uses this directory, delete that file"
                )
            continue
        if not _is_stale(owner, host):
            raise InputError(
                f"{str(directory)!r} is in use by another emstat run ({_describe(owner)}); "
                f"wait for it to finish, or delete {str(path)!r} if that run is gone"
            )
        # Unlink only the lock judged stale: a lock another run took meanwhile stays.
        if _owner(path) == owner:
            path.unlink(missing_ok=True)
            warnings.warn(
                f"broke a stale lock in {str(directory)!r}: the run that held it "
                f"({_describe(owner)}) is gone",
                StudyWarning,
                stacklevel=3,
            )
    raise InputError(f"could not take the lock {str(path)!r}; another run keeps taking it")


def release(path: Path) -> None:
    """Remove the lock if this process still holds it."""
    owner = _owner(path)
    if owner is not None and owner.get("pid") == os.getpid():
        try:
            path.unlink()
        except OSError as exc:  # pragma: no cover - directory removed under us
            if exc.errno != errno.ENOENT:
                raise


@contextmanager
def study_lock(directory: Path) -> Iterator[Path]:
    """Hold the lock of ``directory`` for the duration of the block."""
    path = acquire(directory)
    try:
        yield path
    finally:
        release(path)
