"""What ``epi-fetch`` can fetch: presets and generic sources turned into download items.

A :class:`Request` (from the command line or one manifest line) resolves to
:class:`Target` s; each target lists the :class:`~epitools.io.download.DownloadItem` s it
needs and how to turn the fetched files into the files delivered to ``--out``
(e.g. a UCSC ``.fa.gz`` into a bgzipped, indexed FASTA; a TargetFinder ``pairs.csv``
into a canonical ``pairs.tsv``).

Every base URL can be overridden, per request or with an environment variable
(:data:`BASE_URL_ENV`), so that a mirror or a local test server can stand in.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import os
import re
import shutil
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from epitools.errors import FetchError, GenomeError, InputError, UsageError
from epitools.io.atomic import atomic_open
from epitools.io.download import (BuiltFile, DownloadItem, FetchOptions, FetchResult, cached_build,
                                  cached_record, extract_archive, fetch, fetch_many,
                                  filename_from_url, get_json, place)

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
MANIFEST_COLUMNS = ("source", "id", "cell", "assay", "format", "md5", "sha256", "name", "url",
                    "extract")


class RequestError(UsageError):
    """A request that cannot be resolved; ``field`` names the offending option/column."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Request:
    """One thing the user asked for: a source and its identifiers/options."""

    source: str
    ids: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()
    assays: tuple[str, ...] = ()
    format: str = "fa"
    md5: str | None = None
    sha256: str | None = None
    name: str | None = None
    base_url: str | None = None
    extract: bool = False


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


# --------------------------------------------------------------------------- requests

def _hex(value: str | None, length: int, name: str) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().lower()
    if not re.fullmatch(rf"[0-9a-f]{{{length}}}", value):
        raise RequestError(f"{name} must be {length} hexadecimal characters, got {value!r}", name)
    return value


def make_request(source: str, ids=(), cells=(), assays=(), format: str | None = None,
                 md5: str | None = None, sha256: str | None = None, name: str | None = None,
                 base_url: str | None = None, extract: bool = False) -> Request:
    """Validate what was asked for and return a :class:`Request`.

    Raises
    ------
    RequestError
        Unknown source, cell, assay, assembly or accession; options that do not fit the source.
    """
    source = (source or "").strip().lower()
    if source not in SOURCES:
        raise RequestError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}", "source")
    ids = tuple(i.strip() for i in ids if i and i.strip())
    cells = tuple(c.strip() for c in cells if c and c.strip())
    assays = tuple(a.strip() for a in assays if a and a.strip())
    format = (format or "fa").strip().lower()
    req = Request(source, ids, cells, assays, format, _hex(md5, 32, "md5"), _hex(sha256, 64, "sha256"),
                  name.strip() if name else None, base_url, bool(extract))
    _VALIDATORS[source](req)
    if source != "url" and (req.md5 or req.sha256 or req.name or req.extract):
        raise RequestError(f"--md5/--sha256/--name/--extract apply to 'url' only, not to {source!r}",
                           "md5" if req.md5 else "sha256" if req.sha256 else
                           "name" if req.name else "extract")
    if source not in ("targetfinder", "bengi") and cells:
        raise RequestError(f"--cell does not apply to {source!r}", "cell")
    if source != "bengi" and assays:
        raise RequestError(f"--assay does not apply to {source!r}", "assay")
    if source != "genome" and format != "fa":
        raise RequestError(f"--format does not apply to {source!r}", "format")
    return req


def _validate_genome(req: Request) -> None:
    if len(req.ids) != 1 or req.ids[0] not in ASSEMBLIES:
        raise RequestError(f"genome takes one assembly out of {', '.join(ASSEMBLIES)}; got "
                           f"{' '.join(req.ids) or 'none'}", "id")
    if req.format not in GENOME_FORMATS:
        raise RequestError(f"genome --format must be one of {', '.join(GENOME_FORMATS)}", "format")


def _validate_targetfinder(req: Request) -> None:
    cells = req.cells or req.ids
    if req.cells and req.ids:
        raise RequestError("give TargetFinder cell lines either as arguments or with --cell", "cell")
    for cell in cells:
        if cell not in TARGETFINDER_CELLS:
            raise RequestError(f"unknown TargetFinder cell line {cell!r}; choose from "
                               f"{', '.join(TARGETFINDER_CELLS)}", "cell")


def _validate_bengi(req: Request) -> None:
    if req.ids:
        raise RequestError("bengi takes --cell and --assay, not arguments", "id")
    for cell in req.cells:
        if cell not in BENGI_SETS:
            raise RequestError(f"unknown BENGI cell line {cell!r}; choose from {', '.join(BENGI_SETS)}",
                               "cell")
    known = sorted({a for assays in BENGI_SETS.values() for a in assays})
    for assay in req.assays:
        if assay not in known:
            raise RequestError(f"unknown BENGI assay {assay!r}; choose from {', '.join(known)}", "assay")
    if not _bengi_sets(req):
        raise RequestError(f"no BENGI set for cell {', '.join(req.cells)} and assay "
                           f"{', '.join(req.assays)}; available: " + "; ".join(
                               f"{c}: {', '.join(a)}" for c, a in BENGI_SETS.items()), "assay")


def _validate_accessions(pattern: re.Pattern, what: str):
    def validate(req: Request) -> None:
        if not req.ids:
            raise RequestError(f"{what} needs at least one accession", "id")
        for acc in req.ids:
            if not pattern.fullmatch(acc):
                raise RequestError(f"{acc!r} is not a {what} file accession "
                                   f"(pattern {pattern.pattern})", "id")
    return validate


def _validate_url(req: Request) -> None:
    if len(req.ids) != 1:
        raise RequestError("url takes exactly one URL", "id")
    scheme = urllib.parse.urlsplit(req.ids[0]).scheme.lower()
    if scheme not in ("http", "https"):
        raise RequestError(f"not an http(s) URL: {req.ids[0]!r}", "url")
    if req.name is not None and (req.name != Path(req.name).name or req.name.startswith(".")):
        raise RequestError(f"--name must be a plain file name, got {req.name!r}", "name")


_VALIDATORS = {
    "genome": _validate_genome,
    "targetfinder": _validate_targetfinder,
    "bengi": _validate_bengi,
    "encode": _validate_accessions(ENCODE_ACCESSION, "ENCODE"),
    "4dn": _validate_accessions(FOURDN_ACCESSION, "4DN"),
    "url": _validate_url,
}


def read_manifest(path) -> list[Request]:
    """Requests from a tab-separated manifest with a header line.

    Columns: ``source`` and ``id`` (a URL for ``url``), optional ``cell``, ``assay``
    (comma-separated lists), ``format``, ``md5``, ``sha256``, ``name``. A table with a
    ``url`` column and no ``source`` column is a list of URLs. Blank lines and lines
    starting with ``#`` are skipped.

    Raises
    ------
    InputError
        Naming the manifest, the line and the column of the first bad entry.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read manifest: {exc}", path) from exc
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise InputError("empty manifest (expected a header line and one line per item)", path)
    header_line, header = numbered[0]
    columns = [c.strip().lower() for c in next(csv.reader([header], delimiter="\t"))]
    unknown = [c for c in columns if c not in MANIFEST_COLUMNS]
    if unknown:
        raise InputError(f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(MANIFEST_COLUMNS)}",
                         path, header_line, unknown[0])
    if "source" not in columns and "url" not in columns:
        raise InputError("the header needs a 'source' column (or a 'url' column)", path, header_line)
    requests = []
    for number, line in numbered[1:]:
        values = next(csv.reader([line], delimiter="\t"))
        if len(values) > len(columns):
            raise InputError(f"{len(values)} fields but the header has {len(columns)}", path, number)
        row = dict(zip(columns, (v.strip() for v in values)))
        source = row.get("source") or ("url" if row.get("url") else "")
        ident = row.get("id") or (row.get("url") if source == "url" else "")
        split = lambda v: tuple(x for x in (v or "").split(",") if x.strip())  # noqa: E731
        try:
            requests.append(make_request(source, ids=split(ident) if source != "url" else (ident,),
                                         cells=split(row.get("cell")), assays=split(row.get("assay")),
                                         format=row.get("format") or None, md5=row.get("md5"),
                                         sha256=row.get("sha256"), name=row.get("name") or None,
                                         extract=_flag(row.get("extract"), path, number)))
        except RequestError as exc:
            column = {"url": "url" if "url" in columns else "id"}.get(exc.field, exc.field)
            raise InputError(str(exc), path, number, column) from exc
    if not requests:
        raise InputError("the manifest lists no items", path)
    return requests


def _flag(value: str | None, path, line: int) -> bool:
    value = (value or "").strip().lower()
    if value in ("", "0", "no", "false"):
        return False
    if value in ("1", "yes", "true"):
        return True
    raise InputError(f"expected yes/no, got {value!r}", path, line, "extract")


# --------------------------------------------------------------------------- resolution

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
            files = cached_build(opts, f"genome/{assembly}", [fasta, sizes],
                                 lambda tmp: _build_genome(fasta.path, sizes.path, tmp, assembly), label)
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
    md5s = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{32}", parts[0]):
            md5s[parts[1].lstrip("*").split("/")[-1]] = parts[0].lower()
    return md5s


def _is_bgzf(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(16)
    # gzip magic, FEXTRA flag, and the 'BC' subfield that marks a BGZF block.
    return len(head) == 16 and head[:3] == b"\x1f\x8b\x08" and head[3] & 4 and head[12:14] == b"BC"


def _build_genome(fasta: Path, sizes: Path, directory: Path, assembly: str) -> list[str]:
    """bgzip + faidx the FASTA into ``directory`` and check it against the chrom sizes."""
    import pysam

    out = directory / f"{assembly}.fa.gz"
    if _is_bgzf(fasta):
        shutil.copyfile(fasta, out)
    else:
        with open(fasta, "rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        try:
            with opener(fasta, "rb") as src, pysam.BGZFile(str(out), "wb") as dst:
                for block in iter(lambda: src.read(1 << 22), b""):
                    dst.write(block)
        except (OSError, EOFError) as exc:
            raise GenomeError(f"cannot decompress: {exc}", fasta) from exc
    try:
        pysam.faidx(str(out))
    except pysam.SamtoolsError as exc:
        raise GenomeError(f"not a FASTA file that samtools can index: {exc}", fasta) from exc
    shutil.copyfile(sizes, directory / f"{assembly}.chrom.sizes")
    _check_chrom_sizes(Path(f"{out}.fai"), sizes)
    return [out.name, f"{out.name}.fai", f"{out.name}.gzi", f"{assembly}.chrom.sizes"]


def _check_chrom_sizes(fai: Path, sizes: Path) -> None:
    indexed = {}
    for line in fai.read_text().splitlines():
        name, length = line.split("\t")[:2]
        indexed[name] = int(length)
    for number, line in enumerate(sizes.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[1].strip().isdigit():
            raise GenomeError("expected 'name<TAB>length'", sizes, number)
        name, length = parts[0], int(parts[1])
        if name in indexed and indexed[name] != length:
            raise GenomeError(f"{name} is {length} bp here but {indexed[name]} bp in the FASTA",
                              sizes, number, "length")


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


def _bengi_sets(req: Request) -> list[tuple[str, str]]:
    return [(cell, assay) for cell, assays in BENGI_SETS.items() for assay in assays
            if (not req.cells or cell in req.cells) and (not req.assays or assay in req.assays)]


def _resolve_bengi(req: Request, options: FetchOptions, dry_run: bool) -> list[Target]:
    root = base_url("bengi", req.base_url)
    targets = []
    for cell, assay in _bengi_sets(req):
        name = f"{cell}.{assay}-Benchmark.v3.tsv.gz"
        label = f"bengi:{cell}.{assay}"
        item = DownloadItem(key=f"bengi/{cell}.{assay}", url=f"{root}/{name}", label=label, filename=name)
        targets.append(Target(label, [item], _pairs_finish(label, item, "bengi", cell,
                                                           f"bengi.{cell}.{assay}.pairs.tsv", True)))
    return targets


def _pairs_finish(label: str, item: DownloadItem, fmt: str, cell: str, name: str, keep_raw: bool):
    """Convert a fetched benchmark table to a canonical pairs table (kept in the cache)."""

    def build(directory: Path, raw: Path) -> list[str]:
        from epitools.io.pairs import read_pairs, write_pairs

        table = read_pairs(raw, format=fmt, cell_type=cell)
        write_pairs(table, directory / name)
        log.info("%s: %d pairs", label, len(table))
        return [name]

    def finish(results, options):
        raw = results[item.key]
        files = cached_build(options, f"{item.key}/pairs", [raw], lambda tmp: build(tmp, raw.path), label)
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

        files = cached_build(options, f"{item.key}/extracted", [archive], build, label)
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


# --------------------------------------------------------------------------- running

def plan(targets: list[Target], options: FetchOptions) -> list[dict]:
    """What a fetch would do, one dict per download: item, url, size, md5, state in the cache."""
    rows = []
    for target in targets:
        for item in target.downloads:
            record = cached_record(options.cache_dir, item.key)
            part = Path(options.cache_dir, *item.key.split("/"), ".part")
            if record is not None and (item.md5 is None or record["md5"] == item.md5):
                state = "cached"
            elif part.is_file():
                state = f"partial:{part.stat().st_size}"
            else:
                state = "missing"
            rows.append({"item": item.label, "url": item.url,
                         "size": item.size if item.size is not None else "",
                         "md5": item.md5 or "", "state": state})
    return rows


def fetch_targets(targets: list[Target], options: FetchOptions) -> list[Output]:
    """Download every target's items (concurrently) and build their outputs in the cache."""
    results = fetch_many([item for t in targets for item in t.downloads], options)
    return [output for target in targets for output in target.outputs(results, options)]


FETCH_TSV_COLUMNS = ("item", "path", "size", "md5", "url")


def deliver(outputs: list[Output], out_dir) -> Path:
    """Link (or copy) each output into ``out_dir`` and write ``out_dir/fetch.tsv``.

    Returns the path of ``fetch.tsv`` (columns item, path, size, md5, url; ``path``
    relative to ``out_dir``).
    """
    out_dir = Path(out_dir)
    seen = {}
    for output in outputs:
        if seen.get(output.name, output.source) != output.source:
            raise UsageError(f"two items would both be written as {out_dir / output.name}")
        seen[output.name] = output.source
    rows = []
    for output in outputs:
        dest = place(output.source, out_dir, output.name)
        rows.append((output.item, dest.relative_to(out_dir).as_posix(), str(output.size), output.md5,
                     output.url))
    manifest = out_dir / "fetch.tsv"
    with atomic_open(manifest, "w") as fh:
        fh.write("\t".join(FETCH_TSV_COLUMNS) + "\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")
    return manifest
