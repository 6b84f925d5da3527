"""What the user asked ``epi-fetch`` for: validated requests, from options or a manifest.

A :class:`Request` names a source of the catalogue (:mod:`epitools.fetch.catalogue`) and
its identifiers; :func:`make_request` checks them against the catalogue before anything
is fetched, and :func:`read_manifest` does the same for each line of a manifest.
"""

from __future__ import annotations

import csv
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from epitools.errors import InputError, UsageError
from epitools.fetch.catalogue import (ASSEMBLIES, BENGI_SETS, ENCODE_ACCESSION, FOURDN_ACCESSION,
                                      GENOME_FORMATS, SOURCES, TARGETFINDER_CELLS, bengi_sets)

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
    if not bengi_sets(req.cells, req.assays):
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
        try:
            requests.append(make_request(source, ids=_split(ident) if source != "url" else (ident,),
                                         cells=_split(row.get("cell")), assays=_split(row.get("assay")),
                                         format=row.get("format") or None, md5=row.get("md5"),
                                         sha256=row.get("sha256"), name=row.get("name") or None,
                                         extract=_flag(row.get("extract"), path, number)))
        except RequestError as exc:
            column = {"url": "url" if "url" in columns else "id"}.get(exc.field, exc.field)
            raise InputError(str(exc), path, number, column) from exc
    if not requests:
        raise InputError("the manifest lists no items", path)
    return requests


def _split(value: str | None) -> tuple[str, ...]:
    """A comma-separated manifest cell as a tuple of its non-blank entries."""
    return tuple(x for x in (value or "").split(",") if x.strip())


def _flag(value: str | None, path, line: int) -> bool:
    value = (value or "").strip().lower()
    if value in ("", "0", "no", "false"):
        return False
    if value in ("1", "yes", "true"):
        return True
    raise InputError(f"expected yes/no, got {value!r}", path, line, "extract")
