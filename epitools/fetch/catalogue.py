"""The catalogue of sources ``epi-fetch`` knows, and how a request becomes download targets.

Sources: UCSC genomes, TargetFinder and BENGI pair sets, ENCODE and 4DN file
accessions, and any URL. A request (:mod:`epitools.fetch.request`) resolves to
:class:`Target` s; each target lists the :class:`~epitools.fetch.items.DownloadItem` s
it needs and how to turn the fetched files into the files delivered to ``--out``
(e.g. a UCSC ``.fa.gz`` into a bgzipped, indexed FASTA; a TargetFinder ``pairs.csv``
into a canonical ``pairs.tsv``).

Every base URL can be overridden, per request or with an environment variable
(:data:`BASE_URL_ENV`), so that a mirror or a local test server can stand in.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from epitools.errors import FetchError
from epitools.fetch.archives import extract_archive
from epitools.fetch.cache import BuiltFile, cached_build, cached_record
from epitools.fetch.genome import build_indexed_genome, parse_md5sums
from epitools.fetch.http import fetch, get_json
from epitools.fetch.items import DownloadItem, FetchOptions, FetchResult, filename_from_url

if TYPE_CHECKING:
    from epitools.fetch.request import Request

log = logging.getLogger(__name__)

SOURCES = ("genome", "targetfinder", "bengi", "encode", "4dn", "url")

DEFAULT_BASE_URL = {
    "genome": "https://hgdownload.soe.ucsc.edu/goldenPath",
    "targetfinder": "https://raw.githubusercontent.com/shwhalen/targetfinder/master/paper/targetfinder",
    "bengi": "https://raw.githubusercontent.com/chenkenbio/TransEPI/main/data/BENGI",
    "encode": "https://www.encodeproject.org",
    "4dn": "https://data.4dnucleome.org",
}
BASE_URL_ENV = {
    "genome": "EPITOOLS_UCSC_URL",
    "targetfinder": "EPITOOLS_TARGETFINDER_URL",
    "bengi": "EPITOOLS_BENGI_URL",
    "encode": "EPITOOLS_ENCODE_URL",
    "4dn": "EPITOOLS_4DN_URL",
}
# 4DN serves file bodies only to registered users: an access key pair from the portal.
FOURDN_KEY_ENV = ("EPITOOLS_4DN_KEY", "EPITOOLS_4DN_SECRET")

ASSEMBLIES = ("hg19", "hg38", "mm10", "mm39")
GENOME_FORMATS = ("fa", "2bit")
TARGETFINDER_CELLS = ("GM12878", "HeLa-S3", "HUVEC", "IMR90", "K562", "NHEK")
# BENGI v3 sets as published with TransEPI: cell -> assays.
BENGI_SETS = {
    "GM12878": ("HiC", "CTCF-ChIAPET", "RNAPII-ChIAPET"),
    "HeLa": ("HiC", "CTCF-ChIAPET", "RNAPII-ChIAPET"),
    "HMEC": ("HiC",),
    "IMR90": ("HiC",),
    "K562": ("HiC",),
    "NHEK": ("HiC",),
}
ENCODE_ACCESSION = re.compile(r"ENCFF\d{3}[A-Z]{3}")
FOURDN_ACCESSION = re.compile(r"4DNF[A-Z][0-9A-Z]{7}")


@dataclass(frozen=True)
class Output:
    """A file delivered to ``--out``: its name there, the cached file, and its provenance."""

    item: str
    name: str
    source: Path
    size: int
    md5: str
    url: str


@dataclass
class Target:
    """A resolved request: the downloads it needs and how they become outputs."""

    label: str
    downloads: list[DownloadItem]
    finish: Callable[[dict[str, FetchResult], FetchOptions], list[Output]] | None = None
    notes: dict = field(default_factory=dict)

    def outputs(self, results: dict[str, FetchResult], options: FetchOptions) -> list[Output]:
        """The files this target delivers, given the fetched results keyed by cache key."""
        if self.finish is not None:
            return self.finish(results, options)
        return [_as_output(self.label, results[d.key]) for d in self.downloads]


def _as_output(label: str, result: FetchResult, name: str | None = None) -> Output:
    return Output(item=label, name=name or result.path.name, source=result.path,
                  size=result.size, md5=result.md5, url=result.url)


def _product_outputs(label: str, files: dict[str, BuiltFile], url: str) -> list[Output]:
    return [Output(item=label, name=name, source=f.path, size=f.size, md5=f.md5, url=url)
            for name, f in files.items()]


def base_url(source: str, override: str | None = None) -> str:
    """The base URL of a preset: ``override``, else its environment variable, else the default."""
    url = override or os.environ.get(BASE_URL_ENV[source]) or DEFAULT_BASE_URL[source]
    return url.rstrip("/")


def bengi_sets(cells=(), assays=()) -> list[tuple[str, str]]:
    """The (cell, assay) BENGI sets matching the given cells and assays (empty: all)."""
    return [(cell, assay) for cell, assays_of_cell in BENGI_SETS.items() for assay in assays_of_cell
            if (not cells or cell in cells) and (not assays or assay in assays)]


def resolve(request: Request, options: FetchOptions, dry_run: bool = False) -> list[Target]:
    """Turn a request into targets; may read small metadata (ENCODE/4DN JSON, UCSC md5sum.txt).

    Offline, metadata comes from the cache; a dry run fetches no file into the cache.
    """
    return _RESOLVERS[request.source](request, options, dry_run)


def _resolve_genome(req: Request, options: FetchOptions, dry_run: bool) -> list[Target]:
    assembly = req.ids[0]
    root = f"{base_url('genome', req.base_url)}/{assembly}/bigZips"
    sequence = f"{assembly}.fa.gz" if req.format == "fa" else f"{assembly}.2bit"
    names = (sequence, f"{assembly}.chrom.sizes")
    md5s = {} if dry_run else _ucsc_md5s(root, assembly, options)
    label = f"genome:{assembly}"
    items = [DownloadItem(key=f"ucsc/{assembly}/{name}", url=f"{root}/{name}", label=f"{label}/{name}",
                          filename=name, md5=md5s.get(name)) for name in names]
    finish = None
    if req.format == "fa":
        def finish(results, opts):
            fasta, sizes = (results[item.key] for item in items)
            files = cached_build(opts.cache_dir, f"genome/{assembly}", [fasta, sizes],
                                 lambda tmp: build_indexed_genome(fasta.path, sizes.path, tmp, assembly),
                                 label)
            return [Output(o.item, o.name, o.source, o.size, o.md5,
                           sizes.url if o.name.endswith(".chrom.sizes") else fasta.url)
                    for o in _product_outputs(label, files, fasta.url)]
    return [Target(label, items, finish)]


def _ucsc_md5s(root: str, assembly: str, options: FetchOptions) -> dict[str, str]:
    """file name -> md5 from the assembly's ``md5sum.txt`` (empty, with a warning, if unavailable)."""
    item = DownloadItem(key=f"ucsc/{assembly}/md5sum.txt", url=f"{root}/md5sum.txt",
                        label=f"genome:{assembly}/md5sum.txt", filename="md5sum.txt", refresh=True)
    try:
        text = fetch(item, options).path.read_text()
    except FetchError as exc:
        log.warning("genome:%s: checksums unavailable (%s); files are not verified", assembly, exc)
        return {}
    return parse_md5sums(text)


def _resolve_targetfinder(req: Request, options: FetchOptions, dry_run: bool) -> list[Target]:
    root = base_url("targetfinder", req.base_url)
    targets = []
    for cell in (req.cells or req.ids or TARGETFINDER_CELLS):
        label = f"targetfinder:{cell}"
        item = DownloadItem(key=f"targetfinder/{cell}", url=f"{root}/{cell}/output-ep/pairs.csv",
                            label=label, filename=f"{cell}.pairs.csv")
        targets.append(Target(label, [item], _pairs_finish(label, item, "targetfinder", cell,
                                                           f"targetfinder.{cell}.pairs.tsv", False)))
    return targets


def _resolve_bengi(req: Request, options: FetchOptions, dry_run: bool) -> list[Target]:
    root = base_url("bengi", req.base_url)
    targets = []
    for cell, assay in bengi_sets(req.cells, req.assays):
        name = f"{cell}.{assay}-Benchmark.v3.tsv.gz"
        label = f"bengi:{cell}.{assay}"
        item = DownloadItem(key=f"bengi/{cell}.{assay}", url=f"{root}/{name}", label=label, filename=name)
        targets.append(Target(label, [item], _pairs_finish(label, item, "bengi", cell,
                                                           f"bengi.{cell}.{assay}.pairs.tsv", True)))
    return targets


def _pairs_finish(label: str, item: DownloadItem, fmt: str, cell: str, name: str, keep_raw: bool):
    """Convert a fetched benchmark table to a canonical pairs table (kept in the cache)."""

    def build(directory: Path, raw: Path) -> list[str]:
        # Imported here: pandas is only needed when a pair set is actually converted.
        from epitools.io.pairs import read_pairs, write_pairs

        table = read_pairs(raw, format=fmt, cell_type=cell)
        write_pairs(table, directory / name)
        log.info("%s: %d pairs", label, len(table))
        return [name]

    def finish(results, options):
        raw = results[item.key]
        files = cached_build(options.cache_dir, f"{item.key}/pairs", [raw],
                             lambda tmp: build(tmp, raw.path), label)
        outputs = _product_outputs(label, files, raw.url)
        return ([_as_output(label, raw)] if keep_raw else []) + outputs

    return finish


def _resolve_portal(source: str, req: Request, options: FetchOptions, dry_run: bool) -> list[Target]:
    root = base_url(source, req.base_url)
    auth = None
    if source == "4dn" and all(os.environ.get(v) for v in FOURDN_KEY_ENV):
        auth = tuple(os.environ[v] for v in FOURDN_KEY_ENV)
    targets = []
    for acc in req.ids:
        key, label = f"{source}/{acc}", f"{source}:{acc}"
        record = cached_record(options.cache_dir, key)
        if record is not None:
            # Accessioned files never change: a verified copy needs no metadata lookup.
            item = DownloadItem(key=key, url=record["url"], label=label, filename=record["filename"],
                                md5=record["md5"], size=record["size"], auth=auth)
        elif options.offline:
            raise FetchError(f"{label}: not in the cache {options.cache_dir} and --offline forbids "
                             "looking it up")
        else:
            meta_url = (f"{root}/files/{acc}/?format=json" if source == "encode"
                        else f"{root}/{acc}/?format=json")
            item = _portal_item(source, acc, get_json(meta_url, options, auth), root, meta_url, auth)
        targets.append(Target(label, [item]))
    return targets


def _portal_item(source: str, acc: str, meta: dict, root: str, meta_url: str, auth) -> DownloadItem:
    """A download item from an ENCODE/4DN file metadata record (``href``, ``md5sum``, ``file_size``)."""
    label = f"{source}:{acc}"
    if meta.get("no_file_available"):
        raise FetchError(f"{label}: the portal has no file for this accession ({meta_url})")
    href = meta.get("href")
    if not isinstance(href, str) or not href:
        raise FetchError(f"{label}: metadata {meta_url} has no 'href' download link")
    if meta.get("status") in ("revoked", "deleted", "replaced"):
        log.warning("%s: the portal marks this file as %s", label, meta["status"])
    url = root + href if href.startswith("/") else href
    size = meta.get("file_size")
    md5 = meta.get("md5sum")
    return DownloadItem(key=f"{source}/{acc}", url=url, label=label,
                        filename=filename_from_url(url) or acc,
                        md5=md5.lower() if isinstance(md5, str) and re.fullmatch(r"[0-9a-fA-F]{32}", md5)
                        else None,
                        size=size if isinstance(size, int) and size >= 0 else None, auth=auth)


def _resolve_url(req: Request, options: FetchOptions, dry_run: bool) -> list[Target]:
    url = req.ids[0]
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    label = f"url:{req.name or filename_from_url(url) or digest}"
    item = DownloadItem(key=f"url/{digest}", url=url, label=label, filename=req.name,
                        md5=req.md5, sha256=req.sha256)
    if not req.extract:
        return [Target(label, [item])]

    def finish(results, options):
        archive = results[item.key]
        # Members land in <archive name without extension>/ so that archives do not collide.
        folder = re.sub(r"(\.tar)?\.(tar|tgz|gz|bz2|xz|zip)$", "", archive.path.name) or "archive"

        def build(directory: Path) -> list[str]:
            return [f"{folder}/{m}" for m in extract_archive(archive.path, directory / folder)]

        files = cached_build(options.cache_dir, f"{item.key}/extracted", [archive], build, label)
        return _product_outputs(label, files, archive.url)

    return [Target(label, [item], finish)]


_RESOLVERS = {
    "genome": _resolve_genome,
    "targetfinder": _resolve_targetfinder,
    "bengi": _resolve_bengi,
    "encode": lambda req, opts, dry: _resolve_portal("encode", req, opts, dry),
    "4dn": lambda req, opts, dry: _resolve_portal("4dn", req, opts, dry),
    "url": _resolve_url,
}
