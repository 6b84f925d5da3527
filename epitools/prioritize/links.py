"""One enhancer–gene links table: every score of ABC, EPInformer and pair models, per-gene ranks.

Tables are joined by (element, gene): the element is ``enhancer_chrom/start/end``, the gene the
``gene`` column (a pair-model table without one takes the gene of the ABC row with the same
promoter). Memory is bounded by one chromosome: each input is read in chunks and spilled to
per-chromosome part files (keyed by the gene's chromosome, so a gene's candidates stay
together); then each chromosome is joined, ranked and appended to the output.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_open
from epitools.progress import progress

log = logging.getLogger(__name__)

ELEMENT = ["enhancer_chrom", "enhancer_start", "enhancer_end"]
KEY = ELEMENT + ["gene"]
PROMOTER = ["promoter_chrom", "promoter_start", "promoter_end"]
#: Coordinates and context carried into the links table (first table that has them wins).
CONTEXT = PROMOTER + ["tss", "distance"]
#: ABC columns kept (score first); ``abc_predicted`` is recomputed at the threshold.
ABC_COLUMNS = ["abc_score", "abc_numerator", "activity", "contact_norm"]
EPINFORMER_SCORES = ["attention", "attention_abc", "knockout", "abc"]


@dataclass
class ScoreTable:
    """One input: its path, short name, the columns it brings (output name -> input column) and
    the ranked ones among them (name -> True when larger is more important)."""

    path: Path
    name: str
    scores: dict
    larger_first: dict


def _name(path, taken) -> str:
    """A column-safe name from a file stem, unique among ``taken``."""
    stem = re.sub(r"\W+", "_", Path(path).name.split(".")[0]).strip("_") or "scores"
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    return name


def score_tables(abc, epinformer=None, pairs_scores=()) -> list[ScoreTable]:
    """Describe the inputs: which score columns each brings and their direction.

    Parameters
    ----------
    abc : path
        ``epi-prioritize abc`` output (pairs table with ``abc_score``).
    epinformer : path, optional
        ``epi-prioritize epinformer`` ``scores.tsv``.
    pairs_scores : sequence of path or ``NAME=path``
        ``epi-predict`` outputs (a ``score`` column); NAME names the score column ``NAME_score``.
    """
    tables = [ScoreTable(Path(abc), "abc", {c: c for c in ABC_COLUMNS},
                         {"abc_score": True})]
    if epinformer is not None:
        from epitools.prioritize.scores import RANKED_SCORES

        tables.append(ScoreTable(Path(epinformer), "epinformer",
                                 {f"epinformer_{c}": c for c in EPINFORMER_SCORES},
                                 {f"epinformer_{c}": RANKED_SCORES[c] for c in EPINFORMER_SCORES}))
    taken = {"abc", "epinformer"}
    for item in pairs_scores:
        item = os.fspath(item)
        name, _, path = item.partition("=") if "=" in item and not Path(item).exists() else ("", "", item)
        name = re.sub(r"\W+", "_", name) if name else _name(path, taken)
        if name in taken:
            raise UsageError(f"--pairs-scores: the name {name!r} is used twice")
        taken.add(name)
        tables.append(ScoreTable(Path(path), name, {f"{name}_score": "score"}, {f"{name}_score": True}))
    return tables


def _read_chunks(table: ScoreTable, chunksize: int):
    """Chunks of one input with its key, context and renamed score columns."""
    try:
        reader = pd.read_csv(table.path, sep="\t", chunksize=chunksize, comment=None,
                             dtype={"enhancer_chrom": str, "promoter_chrom": str, "chrom": str,
                                    "gene": str})
        for chunk in reader:
            yield chunk
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the score table ({exc})", path=table.path) from exc


def _prepare(chunk: pd.DataFrame, table: ScoreTable, first_line: int) -> pd.DataFrame:
    """Key, gene chromosome (``_chrom``), context and score columns of one chunk."""
    missing = [c for c in ELEMENT if c not in chunk.columns]
    needed = [src for src in table.scores.values() if src in ("abc_score", "score", "attention")]
    missing += [c for c in needed if c not in chunk.columns]
    if "gene" not in chunk.columns and table.name in ("abc", "epinformer"):
        missing.append("gene")
    if missing:
        raise InputError(f"{table.name} table lacks column(s) {', '.join(missing)}", path=table.path,
                         line=first_line, field=missing[0])
    out = chunk[ELEMENT].copy()
    out["enhancer_chrom"] = out["enhancer_chrom"].astype(str)
    out["gene"] = chunk["gene"].astype(str) if "gene" in chunk.columns else np.nan
    gene_chrom = chunk["promoter_chrom"] if "promoter_chrom" in chunk.columns else chunk.get("chrom")
    out["_chrom"] = (gene_chrom if gene_chrom is not None else out["enhancer_chrom"]).astype(str)
    for column in CONTEXT:
        if column in chunk.columns:
            out[column] = chunk[column]
    for dst, src in table.scores.items():
        if src in chunk.columns:
            out[dst] = pd.to_numeric(chunk[src], errors="coerce")
    return out


def _spill(tables, workdir: Path, chunksize: int) -> list[str]:
    """Write every input as per-chromosome pickles ``workdir/<table>/<chrom>/<k>.pkl``."""
    order: dict = {}
    for t, table in enumerate(tables):
        line = 2
        for k, chunk in enumerate(_read_chunks(table, chunksize)):
            part = _prepare(chunk, table, line)
            line += len(chunk)
            for chrom, piece in part.groupby("_chrom", sort=False):
                order.setdefault(chrom, len(order))
                folder = workdir / str(t) / re.sub(r"[^\w.-]", "_", chrom)
                folder.mkdir(parents=True, exist_ok=True)
                with open(folder / f"{k}.pkl", "wb") as fh:
                    pickle.dump(piece.drop(columns="_chrom"), fh)
    return sorted(order, key=order.get)


def _load(workdir: Path, t: int, chrom: str) -> pd.DataFrame | None:
    folder = workdir / str(t) / re.sub(r"[^\w.-]", "_", chrom)
    if not folder.is_dir():
        return None
    parts = []
    for f in sorted(folder.glob("*.pkl"), key=lambda p: int(p.stem)):
        with open(f, "rb") as fh:
            parts.append(pickle.load(fh))
    return pd.concat(parts, ignore_index=True)


def _fill_genes(frame: pd.DataFrame, abc: pd.DataFrame | None, table: ScoreTable) -> pd.DataFrame:
    """Genes of a table without a ``gene`` column, from the ABC row with the same promoter."""
    if frame["gene"].notna().all():
        return frame
    if abc is None or not set(PROMOTER) <= set(frame.columns):
        raise InputError(f"{table.name} table has no gene column and no promoter the ABC table names",
                         path=table.path, field="gene")
    lookup = abc.dropna(subset=PROMOTER).drop_duplicates(PROMOTER)[PROMOTER + ["gene"]]
    filled = frame.drop(columns="gene").merge(lookup, on=PROMOTER, how="left")
    lost = int(filled["gene"].isna().sum())
    if lost:
        log.warning("%s: %d row(s) whose promoter is not in the ABC table are left out", table.path, lost)
    return filled.dropna(subset=["gene"])


def _check_unique(frame: pd.DataFrame, table: ScoreTable) -> None:
    dup = frame.duplicated(KEY)
    if dup.any():
        row = frame.loc[dup.idxmax()]
        raise InputError(f"{int(dup.sum())} repeated (element, gene) row(s), e.g. "
                         f"{row['enhancer_chrom']}:{row['enhancer_start']}-{row['enhancer_end']} and "
                         f"{row['gene']} (one cell type per table)", path=table.path, field="gene")


def join_chromosome(frames: list, tables: list[ScoreTable], threshold: float) -> pd.DataFrame:
    """Outer join of one chromosome's pieces by (element, gene), with per-gene ranks.

    Parameters
    ----------
    frames : list of DataFrame or None
        One per table (``None`` where it has no rows on this chromosome).
    tables : list of ScoreTable
    threshold : float
        ``abc_predicted = abc_score >= threshold``.

    Returns
    -------
    DataFrame
        Key, context, every score, ``abc_predicted`` and ``rank_<score>`` (1 = most important;
        missing where the score is).
    """
    merged = None
    for frame, table in zip(frames, tables):
        if frame is None:
            continue
        frame = _fill_genes(frame, frames[0], table)
        frame = frame.astype({"enhancer_start": np.int64, "enhancer_end": np.int64})
        _check_unique(frame, table)
        if merged is None:
            merged = frame
            continue
        merged = merged.merge(frame, on=KEY, how="outer", suffixes=("", "_new"))
        for column in CONTEXT:
            if f"{column}_new" in merged.columns:
                base = merged[column] if column in merged.columns else np.nan
                merged[column] = pd.Series(base, index=merged.index).fillna(merged.pop(f"{column}_new"))
    if merged is None:
        return pd.DataFrame(columns=KEY)
    columns = [c for t in tables for c in t.scores]
    for column in columns + CONTEXT:
        if column not in merged.columns:
            merged[column] = np.nan
    merged = _fill_promoters(merged)
    merged["abc_predicted"] = (merged["abc_score"] >= threshold).astype(np.int8)
    ranked = {c: d for t in tables for c, d in t.larger_first.items()}
    ranked["distance"] = False
    for column, larger_first in ranked.items():
        merged[f"rank_{column}"] = (merged.groupby("gene", sort=False)[column]
                                    .rank(method="min", ascending=not larger_first).astype("Int64"))
    merged = merged.sort_values(["gene", "enhancer_start", "enhancer_end"], kind="stable")
    order = ELEMENT + PROMOTER + ["gene", "tss", "distance"] + columns + ["abc_predicted"]
    return merged[order + [f"rank_{c}" for c in ranked]].reset_index(drop=True)


def _fill_promoters(merged: pd.DataFrame) -> pd.DataFrame:
    """Promoter and TSS of rows that came only from a table without them, from the same gene."""
    per_gene = merged.groupby("gene")[PROMOTER + ["tss"]].first()
    for column in PROMOTER + ["tss"]:
        merged[column] = merged[column].fillna(merged["gene"].map(per_gene[column]))
    tss = pd.to_numeric(merged["tss"], errors="coerce")
    merged["promoter_start"] = merged["promoter_start"].fillna(tss)
    merged["promoter_end"] = merged["promoter_end"].fillna(tss + 1)
    merged["promoter_chrom"] = merged["promoter_chrom"].fillna(merged["enhancer_chrom"])
    mid = (merged["enhancer_start"] + merged["enhancer_end"]) / 2
    merged["distance"] = merged["distance"].fillna((mid - tss).abs())
    for column in ("promoter_start", "promoter_end"):
        merged[column] = merged[column].astype("Int64")
    return merged


def build_links(abc, out, *, epinformer=None, pairs_scores=(), threshold: float = 0.02,
                chunksize: int = 200_000) -> dict:
    """Join score tables into ``out`` (TSV), one chromosome at a time.

    Parameters
    ----------
    abc, epinformer, pairs_scores
        See :func:`score_tables`.
    out : path
        Links table, written atomically: ``enhancer_chrom enhancer_start enhancer_end
        promoter_chrom promoter_start promoter_end gene tss distance``, every score,
        ``abc_predicted`` and ``rank_<score>`` per gene.
    threshold : float
        ABC threshold of ``abc_predicted``.
    chunksize : int
        Rows read at a time from each input.

    Returns
    -------
    dict
        ``links`` (rows), ``genes``, ``predicted``, ``chromosomes`` and ``scores`` (the ranked
        score columns).
    """
    tables = score_tables(abc, epinformer, pairs_scores)
    out = Path(out)
    stats = {"links": 0, "genes": 0, "predicted": 0, "chromosomes": 0,
             "scores": [c for t in tables for c in t.larger_first]}
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.parts-", dir=out.parent))
    try:
        chroms = _spill(tables, workdir, chunksize)
        with atomic_open(out, "w") as fh:
            header = True
            for chrom in progress(chroms, desc="links", unit="chrom"):
                frames = [_load(workdir, t, chrom) for t in range(len(tables))]
                joined = join_chromosome(frames, tables, threshold)
                if joined.empty:
                    continue
                joined.to_csv(fh, sep="\t", index=False, header=header, float_format="%.6g")
                header = False
                stats["links"] += len(joined)
                stats["genes"] += joined["gene"].nunique()
                stats["predicted"] += int(joined["abc_predicted"].sum())
                stats["chromosomes"] += 1
            if header:
                fh.write("\t".join(KEY) + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return stats
