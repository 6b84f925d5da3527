"""The download cache: one directory per item, its record, partial files and locks.

Each cached item lives in its own directory ``<cache>/<key>/``::

    <filename>      the verified file
    .fetch.json     its record: url, filename, size, md5, sha256, etag
    .part           bytes received so far (survives SIGKILL; a re-run resumes it)
    .part.json      what the partial file is a prefix of: url, total size, etag, checksums
    .lock           fcntl lock held while the item is being fetched

Files built locally from fetched ones (an indexed genome, a converted pairs table)
live in ``<cache>/products/<key>/`` with a ``.product.json`` recording what they
were built from.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from epitools import __version__
from epitools.errors import UsageError
from epitools.io.atomic import atomic_path, write_text
from epitools.io.cache import default_cache_dir  # noqa: F401 - part of this module's API

log = logging.getLogger(__name__)

RECORD = ".fetch.json"
PART = ".part"
PART_META = ".part.json"
LOCK = ".lock"
PRODUCT_RECORD = ".product.json"


def item_dir(cache_dir, key: str) -> Path:
    """The cache directory of ``key``; refuses empty, absolute or ``..`` keys (UsageError)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
        raise UsageError(f"invalid cache key {key!r}")
    return Path(cache_dir, *parts)


def read_json(path: Path) -> dict | None:
    """A JSON sidecar's content, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cached_record(cache_dir, key: str) -> dict | None:
    """The record of a verified file in the cache, or None if there is none (or it is gone)."""
    directory = Path(cache_dir, *key.split("/"))
    record = read_json(directory / RECORD)
    if not record or "filename" not in record:
        return None
    path = directory / record["filename"]
    if not path.is_file() or path.stat().st_size != record.get("size"):
        return None
    return record


def partial_size(cache_dir, key: str) -> int | None:
    """Bytes of an unfinished download of ``key`` in the cache, or None if there is none."""
    part = Path(cache_dir, *key.split("/"), PART)
    return part.stat().st_size if part.is_file() else None


def discard_part(directory: Path) -> None:
    """Remove an item's partial file and its sidecar (the next attempt starts afresh)."""
    for name in (PART, PART_META):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


@contextlib.contextmanager
def file_lock(path, label: str = ""):
    """Hold an exclusive ``fcntl.flock`` on ``path`` (created if missing) for the block."""
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: waiting for another process fetching it", label or path)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def file_md5(path) -> str:
    """md5 hex digest of a file, read in 4 MiB blocks."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def place(src, out_dir, name: str | None = None) -> Path:
    """Make ``src`` (a cached file) available as ``out_dir/name``: hard link, else copy.

    The destination appears atomically; an existing file of that name is replaced.
    """
    src = Path(src)
    dest = Path(out_dir) / (name or src.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and os.path.samefile(src, dest):
        return dest
    with atomic_path(dest) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:  # another filesystem, or links not allowed
            shutil.copyfile(src, tmp)
    return dest


@dataclass(frozen=True)
class BuiltFile:
    """A file of a locally built product in the cache."""

    path: Path
    size: int
    md5: str


def cached_build(cache_dir, key: str, inputs, build, label: str = "") -> dict[str, BuiltFile]:
    """Files derived locally from fetched inputs, kept in ``<cache>/products/<key>/``.

    Parameters
    ----------
    cache_dir : str or os.PathLike
        The cache directory.
    key : str
        ``/``-separated product name, e.g. ``"genome/hg38"``.
    inputs : list of FetchResult
        The files it is built from; their md5s (and the tool version) decide whether a
        cached build is still valid.
    build : callable
        ``build(directory) -> list[str]`` writes the product files into ``directory``
        and returns their names (relative paths).

    Returns
    -------
    dict
        file name -> :class:`BuiltFile` (path in the cache, size, md5). Works offline.
    """
    directory = item_dir(cache_dir, f"products/{key}")
    signature = [__version__] + [r.md5 for r in inputs]

    def valid(record):
        return (record and record.get("signature") == signature
                and isinstance(record.get("files"), dict)
                and all((directory / name).is_file() for name in record["files"]))

    record = read_json(directory / PRODUCT_RECORD)
    if not valid(record):
        directory.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(directory.parent / f".{directory.name}.lock", label or key):
            record = read_json(directory / PRODUCT_RECORD)
            if not valid(record):
                log.info("%s: building %s", label or key, directory)
                with atomic_path(directory, is_dir=True) as tmp:
                    names = list(build(Path(tmp)))
                    record = {"signature": signature,
                              "files": {n: {"size": (Path(tmp) / n).stat().st_size,
                                            "md5": file_md5(Path(tmp) / n)} for n in names}}
                    write_text(Path(tmp) / PRODUCT_RECORD, json.dumps(record, indent=1))
    return {name: BuiltFile(directory / name, info["size"], info["md5"])
            for name, info in record["files"].items()}
