"""HTTP downloads into the cache: https policy, retries with backoff, resume, verification.

A file only gets its final name once its size and checksum are verified; two
processes fetching the same item serialise on the item's lock and the second finds
the first one's verified copy (see :mod:`epitools.fetch.cache` for the layout).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from epitools import __version__
from epitools.errors import ChecksumError, FetchError, UsageError
from epitools.fetch.cache import (LOCK, PART, PART_META, RECORD, cached_record, discard_part, file_lock,
                                  item_dir, read_json)
from epitools.fetch.items import (DownloadItem, FetchOptions, FetchResult,
                                  filename_from_content_disposition, filename_from_url)
from epitools.io.atomic import write_text
from epitools.progress import progress

log = logging.getLogger(__name__)

USER_AGENT = f"epitools/{__version__} (epi-fetch)"
MAX_BACKOFF_S = 60.0
MAX_JSON_BYTES = 16 << 20
# Set on Ctrl-C so that worker threads stop at their next block (the .part stays resumable).
_cancelled = threading.Event()


class _Retryable(Exception):
    """A transient failure: the next attempt resumes from the partial file."""


def _scheme_allowed(url: str, allow_http: bool) -> bool:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    return scheme == "https" or (scheme == "http" and allow_http)


def check_url(url: str, allow_http: bool) -> None:
    """Refuse anything but ``https://`` (and ``http://`` with ``allow_http``) with a UsageError."""
    if _scheme_allowed(url, allow_http):
        return
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "http":
        raise UsageError(f"refusing plain-http URL {url} (use https, or --allow-http)")
    raise UsageError(f"unsupported URL scheme {scheme or '(none)'!r} in {url!r}: only https is fetched")


class SafeRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https down to http (unless allowed)."""

    def __init__(self, allow_http: bool):
        super().__init__()
        self.allow_http = allow_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        newurl = urllib.parse.urljoin(req.full_url, newurl)
        if not _scheme_allowed(newurl, self.allow_http):
            raise FetchError(f"{req.full_url} redirects to {newurl}: refusing a non-https redirect")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(allow_http: bool):
    # An explicit, empty ProxyHandler would ignore the user's proxy settings; the
    # default one honours http(s)_proxy / no_proxy.
    return urllib.request.build_opener(SafeRedirect(allow_http))


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
        A URL that is not https (without ``allow_http``), or an invalid cache key.
    """
    label = item.label or item.key
    directory = item_dir(options.cache_dir, item.key)
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


def _resume_offset(item: DownloadItem, directory: Path) -> tuple[int, dict]:
    """Bytes already in ``.part`` that belong to this item, and the sidecar describing them."""
    meta = read_json(directory / PART_META)
    part = directory / PART
    if (meta and part.is_file() and meta.get("url") == item.url
            and meta.get("md5") == item.md5 and meta.get("sha256") == item.sha256):
        return part.stat().st_size, meta
    discard_part(directory)
    return 0, {}


def _hashers(item: DownloadItem) -> list:
    return [hashlib.md5()] + ([hashlib.sha256()] if item.sha256 else [])


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
            discard_part(directory)
            raise _Retryable(f"server refused to resume at byte {offset}") from exc
        if not _is_transient(exc):
            discard_part(directory)
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
            discard_part(directory)
            raise _Retryable(f"unexpected Content-Range {resp.headers.get('Content-Range')!r}")
        total = content_range[1]
        if meta.get("total") is not None and total is not None and total != meta["total"]:
            discard_part(directory)
            raise _Retryable("remote file changed size since the partial download")
    else:
        if offset:
            log.info("%s: server sent the whole file; restarting", label)
        offset = 0
        total = body_length
    if total is None and body_length is not None:
        total = offset + body_length
    if item.size is not None and total is not None and total != item.size:
        discard_part(directory)
        raise FetchError(f"{label}: server announces {total} bytes but {item.size} were expected")
    limit = options.max_size
    if limit is not None and (total or item.size or 0) > limit:
        discard_part(directory)
        raise FetchError(f"{label}: {total or item.size} bytes exceeds --max-size {limit}")

    meta = {"url": item.url, "total": total if total is not None else item.size,
            "etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified"),
            "md5": item.md5, "sha256": item.sha256,
            "disposition": filename_from_content_disposition(resp.headers.get("Content-Disposition"))}
    write_text(directory / PART_META, json.dumps(meta))

    hashers = _hashers(item)
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
            size_now = offset + received
            problem = None
            if body_length is not None and received > body_length:
                problem = f"body longer than its Content-Length of {body_length} bytes"
            elif expected_total is not None and size_now > expected_total:
                problem = f"more than the announced {expected_total} bytes received"
            elif limit is not None and size_now > limit:
                problem = f"exceeds --max-size {limit} bytes"
            if problem:
                fh.close()
                discard_part(directory)
                raise FetchError(f"{label}: {problem}")
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
    hashers = _hashers(item)
    _hash_prefix(directory / PART, size, hashers)
    return _verify_and_commit(item, directory, meta, size, hashers)


def _verify_and_commit(item, directory: Path, meta: dict, size: int, hashers) -> dict:
    label = item.label or item.key
    md5 = hashers[0].hexdigest()
    sha256 = hashers[1].hexdigest() if len(hashers) > 1 else None
    for name, expected, got in (("md5", item.md5, md5), ("sha256", item.sha256, sha256)):
        if expected is not None and expected.lower() != got:
            discard_part(directory)
            raise ChecksumError(f"{label}: {name} mismatch for {item.url}: expected {expected.lower()}, "
                                f"got {got}; the download was discarded")
    filename = (item.filename or meta.get("disposition") or filename_from_url(item.url)
                or "download")
    old = read_json(directory / RECORD)
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
