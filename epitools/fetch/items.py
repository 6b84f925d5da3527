"""What to fetch and how: download items, fetch options, results, and safe file names."""

from __future__ import annotations

import email.message
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from epitools.errors import UsageError


@dataclass(frozen=True)
class DownloadItem:
    """One remote file to fetch into the cache.

    Parameters
    ----------
    key : str
        Cache sub-directory of this item, e.g. ``"ucsc/hg38.fa.gz"`` (``/``-separated,
        no ``..``).
    url : str
        Where to download it from.
    label : str
        Name used in messages and in ``fetch.tsv``.
    filename : str, optional
        Name of the cached file; otherwise taken from ``Content-Disposition`` or the URL.
    md5, sha256 : str, optional
        Expected checksums (hex), verified before the file gets its final name.
    size : int, optional
        Expected size in bytes (e.g. from a metadata record).
    refresh : bool
        Download again whenever online (small, changing files such as ``md5sum.txt``).
    auth : tuple of str, optional
        ``(user, password)`` for HTTP basic authentication; never sent on a redirect.
    """

    key: str
    url: str
    label: str = ""
    filename: str | None = None
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    refresh: bool = False
    auth: tuple[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: where the cache is, network policy, retries and limits.

    Raises
    ------
    UsageError
        A negative count, delay or size, or a non-positive timeout, worker count or
        chunk size (the message names the ``epi-fetch`` option).
    """

    cache_dir: Path
    offline: bool = False
    allow_http: bool = False
    retries: int = 5
    backoff: float = 1.0
    timeout: float = 60.0
    max_size: int | None = None
    workers: int = 4
    chunk_size: int = 1 << 18

    def __post_init__(self):
        # (option, value, smallest allowed, whether the smallest itself is allowed)
        limits = (("--retries", self.retries, 0, True), ("--backoff", self.backoff, 0, True),
                  ("--timeout", self.timeout, 0, False), ("--workers", self.workers, 1, True),
                  ("--max-size", self.max_size, 0, True), ("chunk_size", self.chunk_size, 1, True))
        for option, value, low, closed in limits:
            if value is not None and (value < low or (value == low and not closed)):
                bound = f">= {low}" if closed else f"> {low}"
                raise UsageError(f"{option} must be {bound}, got {value}")


@dataclass(frozen=True)
class FetchResult:
    """A verified file in the cache."""

    item: DownloadItem
    path: Path
    size: int
    md5: str
    url: str
    from_cache: bool


def parse_size(text: str | int | None, option: str = "--max-size") -> int | None:
    """``"500M"`` / ``"2G"`` / ``"1024"`` → bytes (powers of 1024); None stays None.

    Raises
    ------
    UsageError
        Text that is not a size; the message names ``option``.
    """
    if text is None or isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if not match:
        raise UsageError(f"{option}: cannot read size {text!r} (examples: 1048576, 500M, 2G)")
    scale = 1024 ** "_KMGT".index(match.group(2).upper() or "_")
    return int(float(match.group(1)) * scale)


_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._+-]+")


def sanitize_filename(name: str | None) -> str | None:
    """A remote-supplied file name reduced to one safe path component, or None.

    Directory parts (``/``, ``\\``), leading dots, control and shell characters are
    dropped, so ``../../etc/passwd`` becomes ``passwd`` and ``..`` becomes None.
    """
    if not name:
        return None
    name = name.replace("\\", "/").split("/")[-1]
    name = _UNSAFE_CHARS.sub("_", name).lstrip("._")
    name = name[:200]
    return name or None


def filename_from_content_disposition(header: str | None) -> str | None:
    """The sanitised ``filename`` (or RFC 2231 ``filename*``) of a Content-Disposition header."""
    if not header:
        return None
    msg = email.message.Message()
    msg["content-disposition"] = header
    return sanitize_filename(msg.get_filename())


def filename_from_url(url: str) -> str | None:
    """The sanitised last component of a URL's path."""
    path = urllib.parse.urlsplit(url).path
    return sanitize_filename(urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1]))
