"""Find every epitools output under the folders given to ``epi-report``.

One walk over the folders (symlinks followed: Nextflow stages inputs as links); files are
classified by name and, for tables, by their header line only, so that a results folder
holding genomes and encoded stores is scanned in milliseconds.

=====================  =====================================================================
kind                   recognised by
=====================  =====================================================================
``runs``               ``metrics.json`` (``epi-train`` run folders)
``abc_tables``         a ``.tsv`` with an ``abc_score`` column (``epi-prioritize abc``)
``gene_scores``        a ``.tsv`` with ``gene enhancer_name attention_abc`` (``epi-prioritize
                       epinformer``: ``scores.tsv``)
``evaluations``        a ``.tsv`` with ``predictor AUPRC`` (``epi-prioritize evaluate``)
``contacts``           a ``.tsv`` with ``distance contact`` and a ``<table>.json`` sidecar
                       carrying ``gamma`` and ``scale`` (``epi-contacts``)
``motifs``             a ``.tsv`` with ``pattern consensus``, or ``motifs.tsv`` next to
                       ``modisco.h5`` (``epi-attribute motifs``)
``tf_pairs``           a ``.tsv`` with ``enhancer_tf promoter_tf`` (``epi-attribute tf-pairs``)
``variants``           a ``.tsv`` with ``variant_id status effect p_empirical`` (``epi-variants``:
                       ``summary.tsv``)
``truths``             ``truth.json`` with ``genes`` (``epi-simulate``)
``versions``           ``versions.yml`` / ``*_versions.yml`` (pipeline processes)
=====================  =====================================================================
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from epitools.errors import InputError

# Tables written next to an evaluation: its per-pair scores would look like an ABC table.
_IGNORED_TABLES = {"matched.tsv", "history.tsv", "predictions.tsv"}
_HEADER_BYTES = 1 << 16


@dataclass
class Outputs:
    """Paths of each kind of output found, sorted; see the module docstring."""

    runs: list[Path] = field(default_factory=list)
    abc_tables: list[Path] = field(default_factory=list)
    gene_scores: list[Path] = field(default_factory=list)
    evaluations: list[Path] = field(default_factory=list)
    contacts: list[Path] = field(default_factory=list)
    motifs: list[Path] = field(default_factory=list)
    tf_pairs: list[Path] = field(default_factory=list)
    variants: list[Path] = field(default_factory=list)
    truths: list[Path] = field(default_factory=list)
    versions: list[Path] = field(default_factory=list)

    def empty(self) -> bool:
        """True when nothing at all was found."""
        return not any(getattr(self, f.name) for f in fields(self))

    def counts(self) -> dict:
        """Number of files of each kind found."""
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}


def table_header(path) -> list[str]:
    """Column names of a tab-separated table: its first line not starting with ``#``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.startswith("#"):
                    return line[:_HEADER_BYTES].rstrip("\r\n").split("\t")
    except OSError as exc:
        raise InputError(f"cannot read table: {exc}", path=path) from exc
    return []


def _sidecar_has_powerlaw(path: Path) -> bool:
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        return False
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(meta, dict) and {"gamma", "scale"} <= set(meta)


def _table_kind(path: Path) -> str | None:
    cols = set(table_header(path))
    if {"predictor", "AUPRC"} <= cols:
        return "evaluations"
    if {"gene", "enhancer_name", "attention_abc"} <= cols:
        return "gene_scores"
    if "abc_score" in cols:
        return "abc_tables"
    if {"distance", "contact"} <= cols and _sidecar_has_powerlaw(path):
        return "contacts"
    if {"pattern", "consensus"} <= cols:
        return "motifs"
    if {"enhancer_tf", "promoter_tf"} <= cols:
        return "tf_pairs"
    if {"variant_id", "status", "effect", "p_empirical"} <= cols:
        return "variants"
    return None


def classify(path: Path) -> str | None:
    """The kind of output a file is (a field of :class:`Outputs`), or None."""
    name = path.name
    if name == "metrics.json":
        return "runs"
    if name == "truth.json":
        return "truths"
    if name == "versions.yml" or name.endswith("_versions.yml"):
        return "versions"
    if name == "motifs.tsv" and path.with_name("modisco.h5").is_file():
        return "motifs"  # also when TF-MoDISco found no pattern (a table without header)
    if name.endswith(".tsv") and name not in _IGNORED_TABLES:
        return _table_kind(path)
    return None


def _walk(folder: Path):
    seen = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (Path(root) / f for f in files)


def discover(paths) -> Outputs:
    """Every output under ``paths`` (files or folders, searched recursively).

    A file reached twice (e.g. through a link) is listed once, under the first path seen.
    """
    found = Outputs()
    seen = set()
    for p in map(Path, paths):
        if p.is_file():
            candidates = [p]
        elif p.is_dir():
            candidates = _walk(p)
        else:
            raise InputError("no such file or directory", path=p)
        for f in candidates:
            real = os.path.realpath(f)
            if real in seen:
                continue
            kind = classify(f)
            if kind is not None:
                seen.add(real)
                getattr(found, kind).append(f)
    for f in fields(found):
        getattr(found, f.name).sort()
    return found
