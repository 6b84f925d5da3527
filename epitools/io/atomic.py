"""Write outputs under a temporary name and rename them when complete.

A crash, an exception, SIGTERM/SIGINT or SIGKILL never leaves a half-written file under the
final name:

- the temporary sibling ``.<name>.tmp-<host>.<pid>.<random>`` is removed on any exception,
  and on SIGTERM once :func:`cleanup_on_signals` is installed (the CLIs install it; SIGINT
  raises ``KeyboardInterrupt``, which unwinds the same way);
- a temporary sibling left by a SIGKILLed writer (same final name, this host, a PID that no
  longer runs) is removed, with a warning, when the next writer of that name starts;
- an ``OSError`` of the output's place (disk full, read-only file system, no permission) is
  an :class:`~epitools.errors.OutputError` naming the final path and the cause in words,
  and folders created for the output are removed again.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

from epitools.errors import OutputError, os_error_cause

log = logging.getLogger(__name__)

# Hostname as it can appear in a file name: the temp names and run locks of several machines
# may share a (network) folder, and a PID only means something on its own host.
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "localhost"
# errnos that can only be the output's place, whatever file the error names (h5py names none).
_PLACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
# temporary path -> PID of the process writing it (forked workers must not remove a parent's)
_LIVE: dict[Path, int] = {}


class Terminated(BaseException):
    """The process received SIGTERM: unwinds like ``KeyboardInterrupt`` (no ``except
    Exception`` stops it), so every temporary output on the way is removed."""

    def __init__(self, signum: int = signal.SIGTERM):
        self.signum = int(signum)
        super().__init__(f"terminated by signal {signal.Signals(self.signum).name}")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a process of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name)}\.tmp-(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_stale_temps(path) -> list[Path]:
    """Remove temporary siblings of ``path`` whose writer (on this host) no longer runs.

    Returns the removed paths; each is reported with a warning.
    """
    final = Path(path)
    if not final.parent.is_dir():
        return []
    pattern = _temp_pattern(final.name)
    removed = []
    with os.scandir(final.parent) as entries:
        for entry in entries:
            match = pattern.match(entry.name)
            if not match or match["host"] != HOST:
                continue
            pid = int(match["pid"])
            if pid == os.getpid() or process_alive(pid):
                continue
            leftover = final.parent / entry.name
            _remove(leftover)
            removed.append(leftover)
            log.warning("removed %s, left by a killed run (PID %d) writing %s", leftover, pid, final)
    return removed


def missing_dirs(path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, outermost first: the folders that
    writing ``path`` as a folder creates (see :func:`remove_empty_dirs`)."""
    missing = []
    for folder in (Path(path), *Path(path).parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing[::-1]


def remove_empty_dirs(dirs) -> None:
    """Remove those of the folders ``dirs`` (outermost first) that hold nothing but empty
    folders; a folder with a file in it (at any depth) is kept."""
    for folder in reversed(list(dirs)):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for root, _, _ in os.walk(folder, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(root)


def _temp_sibling(path: Path, is_dir: bool = False) -> Path:
    # Same directory as the target so that os.replace is an atomic rename.
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp-{HOST}.{os.getpid()}."
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())
        return tmp
    fd, name = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; outputs get the permissions a plain open() would give them.
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


def _is_output_fault(exc: OSError, tmp: Path, final: Path) -> bool:
    """Whether ``exc`` is about the output (its temp, its final name or its folder)."""
    if exc.errno in _PLACE_ERRNOS:
        return True
    mine = (str(tmp), str(final), str(final.parent))
    for name in (exc.filename, getattr(exc, "filename2", None)):
        if name is not None and (os.fspath(name) in mine or os.fspath(name).startswith(str(tmp) + os.sep)):
            return True
    return False


@contextlib.contextmanager
def atomic_path(path, is_dir: bool = False):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The final output path.
    is_dir : bool
        Yield a temporary directory instead of a file.

    On an exception the temporary file or directory (and any folder created for it) is
    removed and the exception propagates, an ``OSError`` of the output's place as an
    :class:`~epitools.errors.OutputError`; an existing ``path`` is left untouched.
    """
    final = Path(path)
    created = missing_dirs(final.parent)
    try:
        remove_stale_temps(final)
        tmp = _temp_sibling(final, is_dir=is_dir)
    except OSError as exc:
        remove_empty_dirs(created)
        raise OutputError(final, os_error_cause(exc)) from exc
    _LIVE[tmp] = os.getpid()
    try:
        yield tmp
        if is_dir and final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as exc:
        _remove(tmp)
        remove_empty_dirs(created)
        if isinstance(exc, OSError) and _is_output_fault(exc, tmp, final):
            raise OutputError(final, os_error_cause(exc)) from exc
        raise
    finally:
        _LIVE.pop(tmp, None)


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
    """Open a temporary sibling of ``path`` for writing; rename it on clean close."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def remove_live_temps() -> None:
    """Remove every temporary output this process is writing now."""
    for tmp, pid in list(_LIVE.items()):
        if pid == os.getpid():
            _remove(tmp)


def _on_terminate(signum, frame):
    # Remove first: the unwinding below may be slow (a C call in progress) or cut short.
    remove_live_temps()
    raise Terminated(signum)


@contextlib.contextmanager
def cleanup_on_signals():
    """While active, SIGTERM removes this process's temporary outputs and raises
    :class:`Terminated` (the CLIs exit 143). Outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
