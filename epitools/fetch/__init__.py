"""Downloads: HTTP with retries and resume, the cache and its locks, archives, the catalogue.

Modules, from the bottom up:

- :mod:`~epitools.fetch.items`: what to fetch (:class:`DownloadItem`), how
  (:class:`FetchOptions`), what came back (:class:`FetchResult`), safe file names.
- :mod:`~epitools.fetch.cache`: the cache layout, records, partial files, locks,
  locally built products (:func:`cached_build`), linking into ``--out`` (:func:`place`).
- :mod:`~epitools.fetch.http`: https-only transfers with retries, resume and checksums
  (:func:`fetch`, :func:`fetch_many`, :func:`get_json`).
- :mod:`~epitools.fetch.archives`: :func:`extract_archive` with traversal protection.
- :mod:`~epitools.fetch.genome`: a fetched FASTA bgzipped, indexed and checked.
- :mod:`~epitools.fetch.catalogue`: the sources (genomes, TargetFinder/BENGI pair sets,
  ENCODE/4DN, URLs) and :func:`resolve` of a request into targets.
- :mod:`~epitools.fetch.request`: validated requests from options or a manifest.
- :mod:`~epitools.fetch.deliver`: the dry-run plan, fetching targets, ``fetch.tsv``.

This package imports only :mod:`epitools.io`, :mod:`epitools.errors` and
:mod:`epitools.progress`.
"""

from epitools.fetch.archives import extract_archive
from epitools.fetch.cache import (BuiltFile, cached_build, cached_record, default_cache_dir, file_lock,
                                  file_md5, place)
from epitools.fetch.catalogue import (ASSEMBLIES, BASE_URL_ENV, BENGI_SETS, GENOME_FORMATS, SOURCES,
                                      TARGETFINDER_CELLS, Output, Target, base_url, resolve)
from epitools.fetch.deliver import FETCH_TSV_COLUMNS, PLAN_COLUMNS, deliver, fetch_targets, plan
from epitools.fetch.http import SafeRedirect, check_url, fetch, fetch_many, get_json
from epitools.fetch.items import (DownloadItem, FetchOptions, FetchResult, filename_from_url,
                                  parse_size, sanitize_filename)
from epitools.fetch.request import MANIFEST_COLUMNS, Request, RequestError, make_request, read_manifest

__all__ = [
    "ASSEMBLIES", "BASE_URL_ENV", "BENGI_SETS", "FETCH_TSV_COLUMNS", "GENOME_FORMATS",
    "MANIFEST_COLUMNS", "PLAN_COLUMNS", "SOURCES", "TARGETFINDER_CELLS",
    "BuiltFile", "DownloadItem", "FetchOptions", "FetchResult", "Output", "Request", "RequestError",
    "SafeRedirect", "Target",
    "base_url", "cached_build", "cached_record", "check_url", "default_cache_dir", "deliver",
    "extract_archive", "fetch", "fetch_many", "fetch_targets", "file_lock", "file_md5",
    "filename_from_url", "get_json", "make_request", "parse_size", "place", "plan", "read_manifest",
    "resolve", "sanitize_filename",
]
