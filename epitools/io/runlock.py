"""An advisory lock on a run directory: one writer at a time.

The lock is ``<dir>/run.lock``, held with ``fcntl.flock`` for the life of the run and
holding ``{"pid", "host", "started"}`` of its holder, so that a second run can say who
holds it. The kernel drops a flock when its process dies, so a lock left by a killed run
on this host (a PID that no longer runs) is taken over with a warning; a lock of another
host cannot be checked and is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from pathlib import Path

from epitools.errors import UsageError
from epitools.io.atomic import HOST, process_alive

log = logging.getLogger(__name__)

LOCK_NAME = "run.lock"


def _holder(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        holder = json.loads(raw.decode()) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        holder = {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    since = holder.get("started")
    when = f", since {since}" if since else ""
    return f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')}{when}"


def _open_locked(path: Path) -> int:
    """A descriptor of ``path`` holding its exclusive flock (the file may be replaced under a
    waiting process by a releasing one, so the inode is checked after locking)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UsageError(f"--out {path.parent} is in use by another run ({_describe(holder)}; "
                             f"lock {path}); wait for it to finish or choose another --out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def run_lock(directory):
    """Hold ``directory/run.lock`` while the block runs (``directory`` must exist).

    Raises
    ------
    UsageError
        Another live run holds the lock, or a lock of another host is present.
    """
    path = Path(directory) / LOCK_NAME
    fd = _open_locked(path)
    try:
        previous = _holder(fd)
        if previous and previous.get("pid") != os.getpid():
            pid = int(previous.get("pid") or 0)
            if previous.get("host") != HOST:
                raise UsageError(f"--out {path.parent} is locked by {_describe(previous)} (lock {path}); "
                                 "if that run is no longer running, delete the lock file")
            state = "no longer runs" if not process_alive(pid) else "runs but does not hold the lock"
            log.warning("taking over the lock %s of PID %d, which %s", path, pid, state)
        record = {"pid": os.getpid(), "host": HOST, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode())
    except BaseException:
        os.close(fd)
        raise
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
