"""The user's cache folder, and where indexes of other people's files go.

Nothing is written beside a user's input: an index that a reader must build (a FASTA
``.fai``, a bgzip ``.gzi``) lives under the cache folder, keyed by the input's absolute
path, size and modification time, so a changed file gets a new index.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$EPITOOLS_CACHE``, else ``$XDG_CACHE_HOME/epitools``, else ``~/.cache/epitools``."""
    if os.environ.get("EPITOOLS_CACHE"):
        return Path(os.environ["EPITOOLS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "epitools"


def index_path(source, suffix: str) -> Path:
    """Where the ``suffix`` index (``.fai``, ``.gzi``) of ``source`` is kept.

    The index beside the file is used when it exists; otherwise a path under
    ``<cache>/index/`` named after the file and a digest of its path, size and mtime.
    """
    source = Path(source)
    beside = Path(f"{source}{suffix}")
    if beside.is_file():
        return beside
    stat = source.stat()
    key = f"{source.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    folder = default_cache_dir() / "index"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{source.name}.{digest}{suffix}"
