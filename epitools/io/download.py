"""HTTP downloads into a local cache: resume, retries, checksums, locks, atomic rename.

Each cached item lives in its own directory ``<cache>/<key>/``::

    <filename>      the verified file
    .fetch.json     its record: url, filename, size, md5, sha256, etag
    .part           bytes received so far (survives SIGKILL; a re-run resumes it)
    .part.json      what the partial file is a prefix of: url, total size, etag, checksums
    .lock           fcntl lock held while the item is being fetched

A file only gets its final name once its size and checksum are verified; two
processes fetching the same item serialise on the lock and the second finds the
first one's verified copy.
"""

from __future__ import annotations

import base64
import contextlib
import email.message
import fcntl
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from epitools import __version__
from epitools.errors import ChecksumError, FetchError, InputError, UsageError
from epitools.io.atomic import atomic_path, write_text
from epitools.progress import progress

log = logging.getLogger(__name__)

RECORD = ".fetch.json"
PART = ".part"
PART_META = ".part.json"
LOCK = ".lock"
USER_AGENT = f"epitools/{__version__} (epi-fetch)"
MAX_BACKOFF_S = 60.0
MAX_JSON_BYTES = 16 << 20
# Set on Ctrl-C so that worker threads stop at their next block (the .part stays resumable).
_cancelled = threading.Event()


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
    """How to fetch: where the cache is, network policy, retries and limits."""

    cache_dir: Path
    offline: bool = False
    allow_http: bool = False
    retries: int = 5
    backoff: float = 1.0
    timeout: float = 60.0
    max_size: int | None = None
    workers: int = 4
    chunk_size: int = 1 << 18


@dataclass(frozen=True)
class FetchResult:
    """A verified file in the cache."""

    item: DownloadItem
    path: Path
    size: int
    md5: str
    url: str
    from_cache: bool


class _Retryable(Exception):
    """A transient failure: the next attempt resumes from the partial file."""


def default_cache_dir() -> Path:
    """``$EPITOOLS_CACHE``, else ``$XDG_CACHE_HOME/epitools``, else ``~/.cache/epitools``."""
    if os.environ.get("EPITOOLS_CACHE"):
        return Path(os.environ["EPITOOLS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "epitools"


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


def check_url(url: str, allow_http: bool) -> None:
    """Refuse anything but ``https://`` (and ``http://`` with ``allow_http``)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_http):
        return
    if scheme == "http":
        raise UsageError(f"refusing plain-http URL {url} (use https, or --allow-http)")
    raise UsageError(f"unsupported URL scheme {scheme or '(none)'!r} in {url!r}: only https is fetched")


def parse_size(text: str | int | None) -> int | None:
    """``"500M"`` / ``"2G"`` / ``"1024"`` → bytes (powers of 1024); None stays None."""
    if text is None or isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if not match:
        raise UsageError(f"cannot read size {text!r} (examples: 1048576, 500M, 2G)")
    scale = 1024 ** "_KMGT".index(match.group(2).upper() or "_")
    return int(float(match.group(1)) * scale)


class _SafeRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https down to http (unless allowed)."""

    def __init__(self, allow_http: bool):
        super().__init__()
        self.allow_http = allow_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        newurl = urllib.parse.urljoin(req.full_url, newurl)
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if not (scheme == "https" or (scheme == "http" and self.allow_http)):
            raise FetchError(f"{req.full_url} redirects to {newurl}: refusing a non-https redirect")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(allow_http: bool):
    # An explicit, empty ProxyHandler would ignore the user's proxy settings; the
    # default one honours http(s)_proxy / no_proxy.
    return urllib.request.build_opener(_SafeRedirect(allow_http))


def _request(url: str, headers: dict | None = None, auth=None) -> urllib.request.Request:
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        # Unredirected: credentials are not forwarded to a redirect target (e.g. object storage).
        req.add_unredirected_header("Authorization", f"Basic {token}")
    return req


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 425, 429)
    return isinstance(exc, (urllib.error.URLError, OSError, http.client.HTTPException))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _with_retries(what: str, attempt, options: FetchOptions):
    """Call ``attempt()`` until it succeeds; back off exponentially on transient failures."""
    last = None
    for i in range(options.retries + 1):
        try:
            return attempt()
        except _Retryable as exc:
            last = exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if not _is_transient(exc):
                raise FetchError(f"{what}: {_describe(exc)}") from exc
            last = exc
        if i < options.retries:
            delay = min(options.backoff * 2 ** i, MAX_BACKOFF_S)
            log.info("%s: %s; retrying in %.2g s (%d/%d)", what, _describe(last), delay,
                     i + 1, options.retries)
            time.sleep(delay)
    raise FetchError(f"{what}: {_describe(last)} (gave up after {options.retries + 1} attempts)")


def get_json(url: str, options: FetchOptions, auth=None) -> dict:
    """GET a JSON document (metadata records) with the same retry and https policy."""
    check_url(url, options.allow_http)
    opener = _opener(options.allow_http)

    def attempt():
        req = _request(url, {"Accept": "application/json"}, auth)
        with opener.open(req, timeout=options.timeout) as resp:
            body = resp.read(MAX_JSON_BYTES + 1)
        if len(body) > MAX_JSON_BYTES:
            raise FetchError(f"{url}: metadata larger than {MAX_JSON_BYTES} bytes")
        return body

    body = _with_retries(url, attempt, options)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FetchError(f"{url}: not a JSON document ({exc})") from exc


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _item_dir(item: DownloadItem, cache_dir: Path) -> Path:
    parts = item.key.split("/")
    if not item.key or any(p in ("", ".", "..") for p in parts) or item.key.startswith("/"):
        raise UsageError(f"invalid cache key {item.key!r}")
    return Path(cache_dir, *parts)


def cached_record(cache_dir, key: str) -> dict | None:
    """The record of a verified file in the cache, or None if there is none (or it is gone)."""
    directory = Path(cache_dir, *key.split("/"))
    record = _read_json(directory / RECORD)
    if not record or "filename" not in record:
        return None
    path = directory / record["filename"]
    if not path.is_file() or path.stat().st_size != record.get("size"):
        return None
    return record


def _matches(record: dict | None, item: DownloadItem) -> bool:
    if record is None:
        return False
    for name in ("md5", "sha256", "size"):
        expected = getattr(item, name)
        if expected is not None and record.get(name) != (expected.lower() if isinstance(expected, str)
                                                        else expected):
            return False
    if item.md5 is None and item.sha256 is None and record.get("url") != item.url:
        return False  # nothing else ties the cached bytes to this URL
    return True


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


def _result(item: DownloadItem, directory: Path, record: dict, from_cache: bool) -> FetchResult:
    return FetchResult(item=item, path=directory / record["filename"], size=record["size"],
                       md5=record["md5"], url=record["url"], from_cache=from_cache)


def fetch(item: DownloadItem, options: FetchOptions) -> FetchResult:
    """Fetch one item into the cache (or find it there) and return the verified file.

    Raises
    ------
    FetchError
        Network failure after the retries, HTTP 4xx, a size limit, or a cache miss offline.
    ChecksumError
        The downloaded bytes do not match the expected md5/sha256 (nothing is kept).
    UsageError
        A URL that is not https (without ``allow_http``).
    """
    label = item.label or item.key
    directory = _item_dir(item, options.cache_dir)
    record = cached_record(options.cache_dir, item.key)
    if _matches(record, item) and (options.offline or not item.refresh):
        log.debug("%s: cached at %s", label, directory / record["filename"])
        return _result(item, directory, record, from_cache=True)
    if options.offline:
        raise FetchError(f"{label}: not in the cache {directory} and --offline forbids downloading it")
    check_url(item.url, options.allow_http)
    directory.mkdir(parents=True, exist_ok=True)
    with file_lock(directory / LOCK, label):
        record = cached_record(options.cache_dir, item.key)
        if _matches(record, item) and not item.refresh:
            return _result(item, directory, record, from_cache=True)
        opener = _opener(options.allow_http)
        record = _with_retries(f"{label} ({item.url})",
                               lambda: _attempt(item, directory, options, opener), options)
    log.info("%s: %s bytes, md5 %s", label, record["size"], record["md5"])
    return _result(item, directory, record, from_cache=False)


def _discard_part(directory: Path) -> None:
    for name in (PART, PART_META):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


def _resume_offset(item: DownloadItem, directory: Path) -> tuple[int, dict]:
    """Bytes already in ``.part`` that belong to this item, and the sidecar describing them."""
    meta = _read_json(directory / PART_META)
    part = directory / PART
    if (meta and part.is_file() and meta.get("url") == item.url
            and meta.get("md5") == item.md5 and meta.get("sha256") == item.sha256):
        return part.stat().st_size, meta
    _discard_part(directory)
    return 0, {}


def _hash_prefix(path: Path, nbytes: int, hashers) -> None:
    with open(path, "rb") as fh:
        remaining = nbytes
        while remaining:
            block = fh.read(min(1 << 22, remaining))
            if not block:
                break
            remaining -= len(block)
            for h in hashers:
                h.update(block)


def _content_range(header: str | None) -> tuple[int, int | None] | None:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", header or "")
    if not match:
        return None
    return int(match.group(1)), (None if match.group(3) == "*" else int(match.group(3)))


def _attempt(item: DownloadItem, directory: Path, options: FetchOptions, opener) -> dict:
    """One HTTP request: resume or start ``.part``, stream it, verify it, rename it."""
    label = item.label or item.key
    offset, meta = _resume_offset(item, directory)
    headers = {}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        etag = meta.get("etag")
        validator = etag if etag and not etag.startswith("W/") else meta.get("last_modified")
        if validator:
            # If the remote file changed, the server answers 200 with the whole new file.
            headers["If-Range"] = validator
    try:
        resp = opener.open(_request(item.url, headers, item.auth), timeout=options.timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset and meta.get("total") == offset:
            return _finish(item, directory, meta, offset)
        if exc.code == 416:
            _discard_part(directory)
            raise _Retryable(f"server refused to resume at byte {offset}") from exc
        if not _is_transient(exc):
            _discard_part(directory)
        raise
    with resp:
        return _stream(item, directory, options, resp, offset, meta, label)


def _stream(item, directory, options, resp, offset, meta, label) -> dict:
    status = resp.status
    announced = resp.headers.get("Content-Length")
    body_length = int(announced) if announced and announced.isdigit() else None
    if status == 206:
        content_range = _content_range(resp.headers.get("Content-Range"))
        if content_range is None or content_range[0] != offset:
            _discard_part(directory)
            raise _Retryable(f"unexpected Content-Range {resp.headers.get('Content-Range')!r}")
        total = content_range[1]
        if meta.get("total") is not None and total is not None and total != meta["total"]:
            _discard_part(directory)
            raise _Retryable("remote file changed size since the partial download")
    else:
        if offset:
            log.info("%s: server sent the whole file; restarting", label)
        offset = 0
        total = body_length
    if total is None and body_length is not None:
        total = offset + body_length
    if item.size is not None and total is not None and total != item.size:
        _discard_part(directory)
        raise FetchError(f"{label}: server announces {total} bytes but {item.size} were expected")
    limit = options.max_size
    if limit is not None and (total or item.size or 0) > limit:
        _discard_part(directory)
        raise FetchError(f"{label}: {total or item.size} bytes exceeds --max-size {limit}")

    meta = {"url": item.url, "total": total if total is not None else item.size,
            "etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified"),
            "md5": item.md5, "sha256": item.sha256,
            "disposition": filename_from_content_disposition(resp.headers.get("Content-Disposition"))}
    write_text(directory / PART_META, json.dumps(meta))

    hashers = [hashlib.md5()] + ([hashlib.sha256()] if item.sha256 else [])
    part = directory / PART
    if offset:
        _hash_prefix(part, offset, hashers)
    if body_length is not None and not getattr(resp, "chunked", False):
        # Read to the end of the connection (urllib sends "Connection: close") instead of
        # stopping at Content-Length, so that a body longer than announced is noticed.
        resp.length = None
    expected_total = meta["total"]
    received = 0
    with open(part, "ab" if offset else "wb") as fh, \
            progress(total=expected_total, desc=label, unit="B", unit_scale=True,
                     unit_divisor=1024, initial=offset) as bar:
        while True:
            try:
                block = resp.read1(options.chunk_size)
            except (TimeoutError, OSError):
                if body_length is not None and received == body_length:
                    break  # complete body; the server just kept the connection open
                raise
            if not block:
                break
            if _cancelled.is_set():
                raise KeyboardInterrupt
            received += len(block)
            if body_length is not None and received > body_length:
                fh.close()
                _discard_part(directory)
                raise FetchError(f"{label}: body longer than its Content-Length of {body_length} bytes")
            size_now = offset + received
            if expected_total is not None and size_now > expected_total:
                fh.close()
                _discard_part(directory)
                raise FetchError(f"{label}: more than the announced {expected_total} bytes received")
            if limit is not None and size_now > limit:
                fh.close()
                _discard_part(directory)
                raise FetchError(f"{label}: exceeds --max-size {limit} bytes")
            fh.write(block)
            fh.flush()  # what arrived is on disk if the process is killed
            for h in hashers:
                h.update(block)
            bar.update(len(block))
    size = offset + received
    if (body_length is not None and received < body_length) or (
            expected_total is not None and size < expected_total):
        raise _Retryable(f"connection closed after {size} of {expected_total} bytes")
    return _verify_and_commit(item, directory, meta, size, hashers)


def _finish(item: DownloadItem, directory: Path, meta: dict, size: int) -> dict:
    """Commit a partial file that turned out to be complete (the server answered 416)."""
    hashers = [hashlib.md5()] + ([hashlib.sha256()] if item.sha256 else [])
    _hash_prefix(directory / PART, size, hashers)
    return _verify_and_commit(item, directory, meta, size, hashers)


def _verify_and_commit(item, directory: Path, meta: dict, size: int, hashers) -> dict:
    label = item.label or item.key
    md5 = hashers[0].hexdigest()
    sha256 = hashers[1].hexdigest() if len(hashers) > 1 else None
    for name, expected, got in (("md5", item.md5, md5), ("sha256", item.sha256, sha256)):
        if expected is not None and expected.lower() != got:
            _discard_part(directory)
            raise ChecksumError(f"{label}: {name} mismatch for {item.url}: expected {expected.lower()}, "
                                f"got {got}; the download was discarded")
    filename = (item.filename or meta.get("disposition") or filename_from_url(item.url)
                or "download")
    old = _read_json(directory / RECORD)
    with contextlib.suppress(FileNotFoundError):
        (directory / RECORD).unlink()  # no record may point at a file being replaced
    if old and old.get("filename") not in (None, filename):
        with contextlib.suppress(FileNotFoundError):
            (directory / old["filename"]).unlink()
    os.replace(directory / PART, directory / filename)
    record = {"url": item.url, "filename": filename, "size": size, "md5": md5,
              "sha256": sha256, "etag": meta.get("etag"), "fetched": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_text(directory / RECORD, json.dumps(record, indent=1))
    with contextlib.suppress(FileNotFoundError):
        (directory / PART_META).unlink()
    return record


def fetch_many(items, options: FetchOptions) -> dict[str, FetchResult]:
    """Fetch items concurrently (at most ``options.workers`` at once), keyed by cache key.

    Every item is attempted; if any failed, a FetchError (or the single failure's own
    error) is raised after the others finished.
    """
    unique = {}
    for item in items:
        unique.setdefault(item.key, item)
    results, failures = {}, []
    if len(unique) == 1:  # in the main thread: Ctrl-C interrupts it directly
        (key, item), = unique.items()
        return {key: fetch(item, options)}
    workers = max(1, min(options.workers, len(unique)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
    try:
        futures = {key: pool.submit(fetch, item, options) for key, item in unique.items()}
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except Exception as exc:  # noqa: BLE001 - collected and re-raised below
                failures.append(exc)
    except KeyboardInterrupt:
        _cancelled.set()
        pool.shutdown(wait=True, cancel_futures=True)
        _cancelled.clear()
        raise
    pool.shutdown(wait=True)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise FetchError(f"{len(failures)} of {len(unique)} downloads failed:\n  "
                         + "\n  ".join(str(e) for e in failures))
    return results


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


PRODUCT_RECORD = ".product.json"


@dataclass(frozen=True)
class BuiltFile:
    """A file of a locally built product in the cache."""

    path: Path
    size: int
    md5: str


def cached_build(options: FetchOptions, key: str, inputs, build, label: str = "") -> dict[str, BuiltFile]:
    """Files derived locally from fetched inputs, kept in ``<cache>/products/<key>/``.

    Parameters
    ----------
    options : FetchOptions
        Gives the cache directory.
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
    directory = _item_dir(DownloadItem(key=f"products/{key}", url=""), options.cache_dir)
    signature = [__version__] + [r.md5 for r in inputs]

    def valid(record):
        return (record and record.get("signature") == signature
                and isinstance(record.get("files"), dict)
                and all((directory / name).is_file() for name in record["files"]))

    record = _read_json(directory / PRODUCT_RECORD)
    if not valid(record):
        directory.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(directory.parent / f".{directory.name}.lock", label or key):
            record = _read_json(directory / PRODUCT_RECORD)
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


def _archive_member_error(name: str, dest: Path) -> str | None:
    target = (dest / name).resolve()
    if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in Path(name).parts:
        return "absolute path or '..' component"
    if dest.resolve() not in target.parents and target != dest.resolve():
        return "escapes the target directory"
    return None


def extract_archive(archive, dest) -> list[str]:
    """Unpack a tar (plain/gz/bz2/xz) or zip archive into ``dest``; return member file names.

    Members with absolute paths, ``..`` components, links pointing outside ``dest``,
    or device files are refused (the whole archive is rejected before anything is written).

    Raises
    ------
    InputError
        Not an archive, or an unsafe member (named in the message).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            for m in members:
                problem = _archive_member_error(m.filename, dest)
                if problem:
                    raise InputError(f"unsafe archive member {m.filename!r}: {problem}", archive)
            zf.extractall(dest, members)
            return [m.filename for m in members]
    if not tarfile.is_tarfile(archive):
        raise InputError("not a tar or zip archive", archive)
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            problem = _archive_member_error(m.name, dest)
            if problem is None and (m.issym() or m.islnk()):
                link = m.linkname if m.islnk() else str(Path(m.name).parent / m.linkname)
                problem = _archive_member_error(link, dest) and "link target escapes the target directory"
            if problem is None and not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                problem = "device, fifo or other special file"
            if problem:
                raise InputError(f"unsafe archive member {m.name!r}: {problem}", archive)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
            tf.extractall(dest, filter="data")
        else:
            tf.extractall(dest)
        return [m.name for m in members if m.isfile()]
