"""Genes with one TSS each from GTF/GFF3 (GENCODE, Ensembl, RefSeq), BED6 or a TSS table.

The TSS rule: a gene's TSS is the 5' end of its gene record (``start`` on ``+``, ``end - 1``
on ``-``, 0-based), i.e. its outermost annotated TSS, as ABC's collapsed gene bounds give it;
a gene without a gene record (UCSC-style GTFs list only transcripts and exons) takes the bounds
of its transcripts collapsed. The output table has

``gene chrom tss strand gene_id symbol biotype start end`` (+ ``expression``)

readable by :func:`epitools.io.genes.read_genes`; ``gene`` is the symbol (``gene_name``,
``Name`` or ``gene``), or the id where a gene has no symbol or shares it with another gene;
``start end`` are the gene bounds (used for ABC's genic element class).

Biotypes come from ``gene_type`` (GENCODE), ``gene_biotype`` (Ensembl GTF, NCBI) or
``biotype`` (Ensembl GFF3); without any, RefSeq transcript accessions give one
(``NM_``/``XM_`` protein_coding, ``NR_``/``XR_`` ncRNA).
"""

from __future__ import annotations

import gzip
import logging
import re

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.regions.intervals import read_bed

log = logging.getLogger(__name__)

GENE_FEATURES = ("gene", "ncRNA_gene", "pseudogene", "transposable_element_gene")
TRANSCRIPT_FEATURES = ("transcript", "mRNA", "ncRNA", "lnc_RNA", "primary_transcript", "exon")
BIOTYPE_KEYS = ("gene_type", "gene_biotype", "biotype")
SYMBOL_KEYS = ("gene_name", "Name", "gene")
OUTPUT_COLUMNS = ["gene", "chrom", "tss", "strand", "gene_id", "symbol", "biotype", "start", "end"]
_GTF_ATTR = re.compile(r'\s*([^\s=";]+)[\s=]+"?([^";]*)"?\s*(?:;|$)')


def _open(path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def detect_annotation_format(path) -> str:
    """``gtf``, ``gff3``, ``bed`` or ``table`` from the first data line."""
    with _open(path) as fh:
        for line in fh:
            if line.startswith("##gff-version 3"):
                return "gff3"
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 9 and fields[3].isdigit() and fields[4].isdigit():
                return "gff3" if "=" in fields[8] and '"' not in fields[8] else "gtf"
            if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
                return "bed"
            return "table"
    raise InputError("empty annotation file", path)


def _attributes(text: str, gff3: bool) -> dict:
    if gff3:
        return dict(kv.split("=", 1) for kv in text.strip().strip(";").split(";") if "=" in kv)
    return {m.group(1): m.group(2) for m in _GTF_ATTR.finditer(text)}


def _read_features(path, gff3: bool) -> pd.DataFrame:
    rows = []
    with _open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) != 9:
                raise InputError(f"expected 9 tab-separated fields, got {len(f)}", path, line=lineno)
            if f[2] not in GENE_FEATURES and f[2] not in TRANSCRIPT_FEATURES:
                continue
            try:
                start, end = int(f[3]) - 1, int(f[4])
            except ValueError as exc:
                raise InputError("start/end is not an integer", path, line=lineno, field="start") from exc
            if f[6] not in ("+", "-"):
                raise InputError(f"strand must be + or -, got {f[6]!r}", path, line=lineno, field="strand")
            attrs = _attributes(f[8], gff3)
            is_gene = f[2] in GENE_FEATURES
            if gff3:
                own = attrs.get("ID", "")
                gene_id = attrs.get("gene_id") or (own.split(":", 1)[-1] if is_gene else "")
                parent = attrs.get("Parent", "").split(",")[0]
                key = own if is_gene else parent
            else:
                gene_id = attrs.get("gene_id", "")
                key = gene_id
            if not key:
                continue
            symbol = next((attrs[k] for k in SYMBOL_KEYS if attrs.get(k)), "")
            biotype = next((attrs[k] for k in BIOTYPE_KEYS if attrs.get(k)), "")
            rows.append((key, is_gene, f[0], start, end, f[6], gene_id, symbol, biotype,
                         attrs.get("transcript_id", "") or (attrs.get("ID", "") if not is_gene else ""),
                         parent if gff3 and not is_gene else "", lineno))
    cols = ["key", "is_gene", "chrom", "start", "end", "strand", "gene_id", "symbol", "biotype",
            "transcript_id", "parent", "line"]
    return pd.DataFrame(rows, columns=cols)


def _genes_from_features(features: pd.DataFrame, path) -> pd.DataFrame:
    if features.empty:
        raise InputError("no gene, transcript or exon records", path)
    genes = features[features["is_gene"]].drop_duplicates("key")
    # GFF3 transcripts point at their gene by Parent; exons point at a transcript, not the gene
    rest = features[~features["is_gene"] & ~features["key"].isin(genes["key"])]
    if len(rest):
        refseq = rest["transcript_id"].str.extract(r"^(?:rna-)?([NX][MR])_", expand=False)
        inferred = refseq.map({"NM": "protein_coding", "XM": "protein_coding", "NR": "ncRNA", "XR": "ncRNA"})
        rest = rest.assign(biotype=rest["biotype"].where(rest["biotype"] != "", inferred.fillna("")))
        if genes.empty or not rest["parent"].any():
            collapsed = rest.groupby(["key", "chrom"], sort=False).agg(
                start=("start", "min"), end=("end", "max"),
                strand=("strand", "first"), gene_id=("gene_id", "first"), symbol=("symbol", "first"),
                biotype=("biotype", lambda b: "protein_coding" if (b == "protein_coding").any() else b.iloc[0]),
                line=("line", "first")).reset_index()
            genes = pd.concat([genes, collapsed.assign(is_gene=True)], ignore_index=True)
    genes = genes.copy()
    genes["gene_id"] = genes["gene_id"].where(genes["gene_id"] != "", genes["key"])
    genes["symbol"] = genes["symbol"].where(genes["symbol"] != "", genes["gene_id"])
    return genes


def _finish(genes: pd.DataFrame, extra=()) -> pd.DataFrame:
    genes = genes.copy()
    if "tss" not in genes.columns:
        genes["tss"] = np.where(genes["strand"] == "-", genes["end"].to_numpy(np.int64) - 1,
                                genes["start"].to_numpy(np.int64))
    shared = genes["symbol"].duplicated(keep=False)
    genes["gene"] = genes["symbol"].where(~shared, genes["gene_id"])
    dup = genes["gene"].duplicated()
    if dup.any():
        log.warning("genes: %d record(s) repeat a gene id already seen and are dropped", int(dup.sum()))
        genes = genes[~dup]
    if shared.any():
        log.info("genes: %d gene(s) share a symbol and are named by their id", int(shared.sum()))
    return genes[OUTPUT_COLUMNS + list(extra)].reset_index(drop=True)


def _genes_from_bed(path) -> pd.DataFrame:
    raw, lines = read_bed(path, min_columns=6)
    bad = ~raw[5].isin(["+", "-"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"strand must be + or -, got {raw[5].iloc[i]!r}", path, line=int(lines[i]), field="strand")
    gene_id = raw[6] if 6 in raw.columns else raw[3]
    biotype = raw[7] if 7 in raw.columns else pd.Series("", index=raw.index)
    return pd.DataFrame({"chrom": raw[0], "start": raw[1], "end": raw[2], "strand": raw[5],
                         "gene_id": gene_id.where(gene_id != "", raw[3]), "symbol": raw[3], "biotype": biotype})


def _pick(columns, *names):
    lower = {c.lower(): c for c in columns}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def _genes_from_table(path) -> pd.DataFrame:
    sep = "," if str(path).removesuffix(".gz").endswith(".csv") else "\t"
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    chrom, tss = _pick(df.columns, "chrom", "chr", "#chrom", "#chr", "chromosome"), _pick(df.columns, "tss")
    symbol = _pick(df.columns, "symbol", "gene_name", "name", "gene")
    gene_id = _pick(df.columns, "gene_id", "ensembl_id", "gene", "name") or symbol
    if chrom is None or tss is None or symbol is None:
        raise InputError("a TSS table needs columns chrom (or chr), tss and gene (or symbol/name); "
                         f"found {', '.join(df.columns)}", path, line=1)
    values = pd.to_numeric(df[tss], errors="coerce")
    if values.isna().any():
        i = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError(f"not an integer: {df[tss].iloc[i]!r}", path, line=i + 2, field=tss)
    strand = df[_pick(df.columns, "strand")] if _pick(df.columns, "strand") else pd.Series("+", index=df.index)
    bounds = [_pick(df.columns, "start"), _pick(df.columns, "end")]
    start = pd.to_numeric(df[bounds[0]]) if all(bounds) else values
    end = pd.to_numeric(df[bounds[1]]) if all(bounds) else values + 1
    biotype = _pick(df.columns, "biotype", "gene_type", "gene_biotype")
    out = pd.DataFrame({"chrom": df[chrom], "start": start.astype(np.int64), "end": end.astype(np.int64),
                        "strand": strand, "gene_id": df[gene_id], "symbol": df[symbol],
                        "biotype": df[biotype] if biotype else "",
                        # a TSS table states its TSS: keep it rather than the bounds' 5' end
                        "tss": values.astype(np.int64)})
    extras = {}
    for name, aliases in (("expression", ("expression",)),
                          ("promoter_activity_quantile", ("promoter_activity_quantile", "PromoterActivityQuantile"))):
        column = _pick(df.columns, *aliases)
        if column:
            # ABC's GeneList carries these; its "genes considered expressed" rule needs both
            extras[name] = pd.to_numeric(df[column].replace("", np.nan), errors="coerce").to_numpy()
    return _finish(out.assign(**extras), extra=list(extras))


def read_annotation(path, format: str = "auto") -> pd.DataFrame:
    """Genes from an annotation (see the module docstring for formats and the TSS rule).

    Returns
    -------
    pandas.DataFrame
        :data:`OUTPUT_COLUMNS`, one row per gene, in file order.
    """
    fmt = detect_annotation_format(path) if format == "auto" else format
    if fmt in ("gtf", "gff3"):
        genes = _finish(_genes_from_features(_read_features(path, fmt == "gff3"), path))
    elif fmt == "bed":
        genes = _finish(_genes_from_bed(path))
    elif fmt == "table":
        genes = _genes_from_table(path)
    else:
        raise UsageError(f"annotation format must be auto, gtf, gff3, bed or table, got {format!r}")
    log.info("genes: %d from %s (%s)", len(genes), path, fmt)
    return genes


def filter_biotypes(genes: pd.DataFrame, biotypes) -> pd.DataFrame:
    """Genes whose biotype is one of ``biotypes`` (all genes when empty or ``all``)."""
    wanted = [b for b in (biotypes or []) if b and b != "all"]
    if not wanted:
        return genes
    if not (genes["biotype"].astype(str) != "").any():
        log.warning("genes: the annotation names no biotypes; --biotype %s is not applied", ",".join(wanted))
        return genes
    kept = genes[genes["biotype"].isin(wanted)].reset_index(drop=True)
    log.info("genes: %d of %d have biotype %s", len(kept), len(genes), ",".join(wanted))
    return kept


def join_expression_by_id_or_symbol(genes: pd.DataFrame, expression: pd.Series) -> tuple[pd.DataFrame, dict]:
    """Add ``expression`` matching each expression key to a gene id (with or without its
    version suffix) or else a symbol.

    Returns
    -------
    (pandas.DataFrame, dict)
        Genes with ``expression`` (NaN unmatched) and counts ``matched_by_id``,
        ``matched_by_symbol``, ``genes_without_value``, ``expression_rows_unmatched``.
    """
    values = pd.Series(expression.to_numpy(np.float64), index=expression.index.astype(str))
    unversioned = values.copy()
    unversioned.index = unversioned.index.str.replace(r"\.\d+$", "", regex=True)
    unversioned = unversioned[~unversioned.index.duplicated()]
    gene_id = genes["gene_id"].astype(str)
    by_id = gene_id.map(values)
    by_id = by_id.fillna(gene_id.str.replace(r"\.\d+$", "", regex=True).map(unversioned))
    by_symbol = genes["symbol"].astype(str).map(values)
    joined = by_id.fillna(by_symbol)
    used = set(gene_id) | set(gene_id.str.replace(r"\.\d+$", "", regex=True)) | set(genes["symbol"].astype(str))
    keys = pd.Index(values.index)
    counts = {"matched_by_id": int(by_id.notna().sum()),
              "matched_by_symbol": int((by_id.isna() & by_symbol.notna()).sum()),
              "genes_without_value": int(joined.isna().sum()),
              "expression_rows_unmatched": int((~keys.isin(used) &
                                                ~keys.str.replace(r"\.\d+$", "", regex=True).isin(used)).sum())}
    log.info("expression: %d genes matched by id, %d by symbol; %d genes without a value; "
             "%d expression rows match no gene", counts["matched_by_id"], counts["matched_by_symbol"],
             counts["genes_without_value"], counts["expression_rows_unmatched"])
    return genes.assign(expression=joined.to_numpy(np.float64)), counts
