"""Gene-level HDF5 store for EPInformer: one promoter and its candidate enhancers per gene.

For every gene the store holds the promoter window (centred on the TSS) and up to
``max_enhancers`` candidate elements whose centre lies within ``max_distance`` of the
TSS, nearest first, each as an N-padded window centred on the element, with its distance,
activity (DNase, H3K27ac), Hi-C contact and coordinates, a mask of the filled slots,
optional gene features (mRNA half-life, 8 values) and the log-transformed expression.
Measured expression comes from the genes table's ``expression`` column or from a separate
``gene expression`` table joined by gene name (:func:`read_expression`, :func:`join_expression`).

Layout (G genes, M = max_enhancers slots, L = window length)::

    promoter        (G, Lp)       uint8  base codes (A=0 C=1 G=2 T=3 N=4)
    enhancers       (G, M, Le)    uint8  base codes; empty slots are all N
    enhancer_mask   (G, M)        bool   True where a slot holds a candidate
    distance        (G, M)        int32  |element centre - TSS| in bp (0 when empty)
    activity        (G, M, 2)     float32  DNase, H3K27ac of the element (0 when empty)
    contact         (G, M)        float32  Hi-C contact of element and TSS (0 when empty)
    enhancer_name   (G, M)        str    element name ('' when empty)
    enhancer_start  (G, M)        int64  element start (-1 when empty); enhancer_end likewise
    gene_features   (G, F)        float32  e.g. hl_1..hl_8 (F = 0 when absent)
    expression      (G,)          float32  log1p(expression) (or as given); NaN when unknown
    expression_raw  (G,)          float32
    gene chrom strand (G,) str;  tss (G,) int64

Attributes: ``kind="genes"``, ``encoding="onehot"``, window lengths, ``max_enhancers``,
``max_distance``, ``expression_transform``, ``activity_columns``, ``gene_feature_columns``,
genome path, source checksums and tool version.
"""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path
from epitools.io.genome import Genome, file_checksum
from epitools.progress import progress

log = logging.getLogger(__name__)

GENE_COLUMNS = ("gene", "chrom", "tss")
ELEMENT_COLUMNS = ("chrom", "start", "end", "name", "dnase", "h3k27ac")
ACTIVITY_COLUMNS = ("dnase", "h3k27ac")
EXPRESSION_TRANSFORMS = ("log1p", "none")
N_CODE = 4


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _numeric(df: pd.DataFrame, column: str, path, *, integer: bool, header_lines: int) -> np.ndarray:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna().to_numpy() & df[column].notna().to_numpy()
    if integer:
        bad |= values.isna().to_numpy()
        bad |= ~np.isclose(values.fillna(0).to_numpy(), np.round(values.fillna(0).to_numpy()))
    if bad.any():
        i = _first_bad(bad)
        raise InputError(f"not a number: {df[column].iloc[i]!r}", path, line=i + 1 + header_lines,
                         field=column)
    return values.to_numpy(dtype=np.int64 if integer else np.float64)


def read_genes(path, expression_transform: str = "log1p") -> pd.DataFrame:
    """Read a genes table (TSV with header: ``gene chrom tss`` [``strand expression hl_1..hl_8``]).

    With ``expression_transform="log1p"`` expression must be >= 0 (linear scale); with
    ``"none"`` it is taken as already log-scaled and may be negative.

    Returns
    -------
    pandas.DataFrame
        One row per gene; ``tss`` int64 (0-based), ``strand`` ('+' when absent),
        ``expression`` float64 (NaN when absent).
    """
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=["", "NA", "nan"])
    missing = [c for c in GENE_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; found {', '.join(df.columns)}",
                         path, line=1, field=missing[0])
    df["tss"] = _numeric(df, "tss", path, integer=True, header_lines=1)
    if (df["tss"] < 0).any():
        i = _first_bad((df["tss"] < 0).to_numpy())
        raise InputError("negative TSS", path, line=i + 2, field="tss")
    if "strand" not in df.columns:
        df["strand"] = "+"
    bad_strand = ~df["strand"].isin(["+", "-", "."])
    if bad_strand.any():
        i = _first_bad(bad_strand.to_numpy())
        raise InputError(f"strand must be +, - or ., got {df['strand'].iloc[i]!r}", path,
                         line=i + 2, field="strand")
    if "expression" in df.columns:
        df["expression"] = _numeric(df, "expression", path, integer=False, header_lines=1)
        _check_expression_values(df["expression"].to_numpy(), path, np.arange(len(df)) + 2,
                                 expression_transform)
    else:
        df["expression"] = np.nan
    for column in gene_feature_columns(df):
        df[column] = _numeric(df, column, path, integer=False, header_lines=1)
    duplicated = df["gene"].duplicated()
    if duplicated.any():
        i = _first_bad(duplicated.to_numpy())
        raise InputError(f"gene {df['gene'].iloc[i]!r} appears twice", path, line=i + 2, field="gene")
    return df.reset_index(drop=True)


def _check_expression_values(values: np.ndarray, path, lines: np.ndarray, transform: str) -> None:
    negative = values < 0
    if negative.any() and transform == "log1p":
        i = _first_bad(negative)
        raise InputError("expression must be >= 0 (it is log1p-transformed; use the "
                         "'none' transform for values already on a log scale)", path,
                         line=int(lines[i]), field="expression")


def _delimiter(path) -> str:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        header = fh.readline()
    # A header without tabs but with commas is CSV; anything else is read as TSV.
    return "," if "\t" not in header and "," in header else "\t"


def read_expression(path, expression_transform: str = "log1p") -> pd.Series:
    """Read a measured-expression table: ``gene expression`` with a header (TSV or CSV, may be
    gzipped); other columns are ignored, empty/NA values mean unknown.

    Returns
    -------
    pandas.Series
        float64 expression indexed by gene name (NaN where unknown), in file order.

    Raises
    ------
    InputError
        Missing column, a value that is not a number, a negative value with the ``log1p``
        transform, or a gene listed twice (naming the file, line and field).
    """
    df = pd.read_csv(path, sep=_delimiter(path), dtype=str, keep_default_na=False,
                     na_values=["", "NA", "nan", "NaN"])
    missing = [c for c in ("gene", "expression") if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}",
                         path, line=1, field=missing[0])
    if df["gene"].isna().any():
        i = _first_bad(df["gene"].isna().to_numpy())
        raise InputError("empty gene name", path, line=i + 2, field="gene")
    values = _numeric(df, "expression", path, integer=False, header_lines=1)
    _check_expression_values(values, path, np.arange(len(df)) + 2, expression_transform)
    duplicated = df["gene"].duplicated()
    if duplicated.any():
        i = _first_bad(duplicated.to_numpy())
        first = _first_bad((df["gene"] == df["gene"].iloc[i]).to_numpy())
        raise InputError(f"gene {df['gene'].iloc[i]!r} appears twice (first on line {first + 2})",
                         path, line=i + 2, field="gene")
    return pd.Series(values, index=pd.Index(df["gene"].to_numpy(), name="gene"), name="expression")


def join_expression(genes: pd.DataFrame, expression: pd.Series, source=None) -> pd.DataFrame:
    """Genes table with its ``expression`` column replaced by ``expression`` joined by gene name.

    Genes without a value get NaN (EPInformer's trainer skips them); the counts of such genes
    and of expression-table genes absent from ``genes`` are logged, neither is an error.

    Parameters
    ----------
    genes : DataFrame
        Genes table with a ``gene`` column (see :func:`read_genes`).
    expression : Series
        float values indexed by unique gene names (see :func:`read_expression`).
    source : path, optional
        Where ``expression`` came from (for the log).
    """
    if not expression.index.is_unique:
        duplicated = expression.index[expression.index.duplicated()]
        raise InputError(f"gene {duplicated[0]!r} appears twice in the expression table", source,
                         field="gene")
    names = genes["gene"].astype(str)
    values = pd.Series(expression.to_numpy(np.float64), index=expression.index.astype(str))
    joined = names.map(values)
    unknown = int((~values.index.isin(names)).sum())
    missing = int(joined.isna().sum())
    where = f" ({source})" if source is not None else ""
    log.info("expression%s: values for %d of %d genes", where, len(genes) - missing, len(genes))
    if missing:
        log.warning("expression%s: %d gene(s) have no value and are left out of training "
                    "(scored, not fitted)", where, missing)
    if unknown:
        log.warning("expression%s: %d gene(s) are not in the genes table and are ignored", where, unknown)
    return genes.assign(expression=joined.to_numpy(np.float64))


def gene_feature_columns(genes: pd.DataFrame) -> list[str]:
    """The mRNA half-life feature columns ``hl_1 .. hl_n`` present in ``genes``, in order."""
    columns = [c for c in genes.columns if c.startswith("hl_") and c[3:].isdigit()]
    return sorted(columns, key=lambda c: int(c[3:]))


def read_elements(path) -> pd.DataFrame:
    """Read candidate elements (BED: ``chrom start end name dnase h3k27ac``, header optional).

    A first line starting with ``#`` or whose second field is not an integer is a header.
    """
    with open(path) as fh:
        first = fh.readline().rstrip("\n").split("\t")
    has_header = first[0].startswith("#") or len(first) < 2 or not first[1].strip().isdigit()
    if has_header:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        df.columns = [c.lstrip("#") for c in df.columns]
    else:
        df = pd.read_csv(path, sep="\t", dtype=str, header=None, keep_default_na=False)
        df.columns = list(ELEMENT_COLUMNS[: df.shape[1]]) + [f"extra_{i}" for i in
                                                              range(df.shape[1] - len(ELEMENT_COLUMNS))]
    header_lines = 1 if has_header else 0
    missing = [c for c in ELEMENT_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)} (expected {' '.join(ELEMENT_COLUMNS)})",
                         path, line=1, field=missing[0])
    for column in ("start", "end"):
        df[column] = _numeric(df, column, path, integer=True, header_lines=header_lines)
    for column in ACTIVITY_COLUMNS:
        df[column] = _numeric(df, column, path, integer=False, header_lines=header_lines)
        bad = ~(df[column].to_numpy() >= 0)
        if bad.any():
            i = _first_bad(bad)
            raise InputError("activity must be a number >= 0", path, line=i + 1 + header_lines,
                             field=column)
    bad = ~((df["start"] >= 0) & (df["end"] > df["start"])).to_numpy()
    if bad.any():
        i = _first_bad(bad)
        raise InputError(f"need 0 <= start < end, got {df['start'].iloc[i]}-{df['end'].iloc[i]}", path,
                         line=i + 1 + header_lines, field="end")
    return df.reset_index(drop=True)


def select_candidates(genes: pd.DataFrame, elements: pd.DataFrame, *, max_enhancers: int = 60,
                      max_distance: int = 100_000, promoter_length: int = 2000) -> pd.DataFrame:
    """Nearest elements around each TSS.

    An element is a candidate of a gene when its centre lies within ``max_distance`` bp
    of the TSS and outside the promoter window (which the promoter slot already covers).
    At most ``max_enhancers`` are kept per gene, nearest first (ties: leftmost first).

    Returns
    -------
    pandas.DataFrame
        Columns ``gene_index slot element_index distance`` sorted by gene then slot.
    """
    gene_chroms = genes["chrom"].to_numpy()
    tss = genes["tss"].to_numpy(np.int64)
    centres = ((elements["start"].to_numpy(np.int64) + elements["end"].to_numpy(np.int64)) // 2)
    element_chroms = elements["chrom"].to_numpy()
    half = promoter_length // 2
    parts = []
    for chrom in np.unique(gene_chroms):
        on_chrom = np.flatnonzero(element_chroms == chrom)
        if on_chrom.size == 0:
            continue
        order = on_chrom[np.argsort(centres[on_chrom], kind="stable")]
        sorted_centres = centres[order]
        gene_idx = np.flatnonzero(gene_chroms == chrom)
        lo = np.searchsorted(sorted_centres, tss[gene_idx] - max_distance, side="left")
        hi = np.searchsorted(sorted_centres, tss[gene_idx] + max_distance, side="right")
        counts = hi - lo
        # Flat (gene, element) pairs without a Python loop over genes.
        rows = np.repeat(gene_idx, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        elem = order[np.repeat(lo, counts) + offsets]
        signed = centres[elem] - tss[rows]
        keep = (signed < -half) | (signed >= half)
        parts.append(pd.DataFrame({"gene_index": rows[keep], "element_index": elem[keep],
                                   "distance": np.abs(signed[keep]), "centre": centres[elem[keep]]}))
    if not parts:
        return pd.DataFrame({c: np.array([], np.int64) for c in
                             ("gene_index", "slot", "element_index", "distance")})
    pairs = pd.concat(parts, ignore_index=True)
    pairs = pairs.sort_values(["gene_index", "distance", "centre"], kind="stable", ignore_index=True)
    pairs["slot"] = pairs.groupby("gene_index").cumcount()
    pairs = pairs[pairs["slot"] < max_enhancers]
    return pairs[["gene_index", "slot", "element_index", "distance"]].reset_index(drop=True)


def _default_contacts(hic):
    def contacts(pairs: pd.DataFrame) -> np.ndarray:
        from epitools.contacts import pair_contacts

        table = pair_contacts(pairs, hic)
        column = "contact_norm" if "contact_norm" in table.columns else "contact"
        return table[column].to_numpy(np.float32)

    return contacts


def _contact_pairs(genes: pd.DataFrame, elements: pd.DataFrame, cand: pd.DataFrame,
                   promoter_length: int) -> pd.DataFrame:
    g = genes.iloc[cand["gene_index"].to_numpy()]
    e = elements.iloc[cand["element_index"].to_numpy()]
    tss = g["tss"].to_numpy(np.int64)
    return pd.DataFrame({
        "enhancer_chrom": e["chrom"].to_numpy(), "enhancer_start": e["start"].to_numpy(np.int64),
        "enhancer_end": e["end"].to_numpy(np.int64), "promoter_chrom": g["chrom"].to_numpy(),
        "promoter_start": np.maximum(tss - promoter_length // 2, 0),
        "promoter_end": tss + promoter_length // 2, "pair_id": np.arange(len(cand)).astype(str),
        "gene": g["gene"].to_numpy(), "tss": tss, "distance": cand["distance"].to_numpy(np.int64),
    })


def _open_genome(genome):
    if isinstance(genome, (str, os.PathLike)):
        return Genome(genome)
    return genome


def build_gene_store(genes, elements, genome, out, *, hic=None, contacts=None,
                     promoter_length: int = 2000, enhancer_length: int = 2000,
                     max_enhancers: int = 60, max_distance: int = 100_000,
                     expression_transform: str = "log1p", expression=None,
                     chunk_genes: int = 64) -> Path:
    """Build the gene-level store ``out`` (HDF5) for EPInformer.

    Parameters
    ----------
    genes : path or DataFrame
        Genes table (see :func:`read_genes`).
    elements : path or DataFrame
        Candidate elements (see :func:`read_elements`).
    genome : path or Genome
        FASTA/2bit path or an object with ``resolve`` and ``fetch_windows(chroms, starts, length)``.
    out : path
        The ``.h5`` file to write (atomically).
    hic : path, optional
        ``.cool``/``.mcool`` for the contact; None uses the power-law fallback of
        :func:`epitools.contacts.pair_contacts`.
    contacts : callable, optional
        ``contacts(pairs_df) -> (n,) float`` overriding ``hic`` (pairs in the canonical
        columns plus ``gene tss distance``).
    promoter_length, enhancer_length : int
        Window lengths (bp). EPInformer uses 2000 for both; shorter windows make CPU runs fast.
    max_enhancers : int
        Slots per gene (60 in the paper).
    max_distance : int
        Largest |element centre - TSS| of a candidate.
    expression_transform : {"log1p", "none"}
        Target = log1p(expression) for linear-scale input; "none" keeps values already on a
        log scale (e.g. ``epi-simulate``'s genes.tsv).
    expression : path or Series, optional
        Measured expression (``gene expression`` table, see :func:`read_expression`, or a
        Series indexed by gene) replacing the genes table's ``expression`` column; genes
        without a value get NaN and are skipped in training.
    chunk_genes : int
        Genes encoded and written per step (memory ~ chunk_genes * max_enhancers * enhancer_length).

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    if expression_transform not in EXPRESSION_TRANSFORMS:
        raise UsageError(f"expression_transform must be one of {', '.join(EXPRESSION_TRANSFORMS)}, "
                         f"got {expression_transform!r}")
    genes_path = None if isinstance(genes, pd.DataFrame) else genes
    elements_path = None if isinstance(elements, pd.DataFrame) else elements
    genes = read_genes(genes, expression_transform) if genes_path is not None else genes.reset_index(drop=True)
    elements = read_elements(elements) if elements_path is not None else elements.reset_index(drop=True)
    expression_path = None
    if expression is not None:
        if isinstance(expression, pd.Series):
            _check_expression_values(expression.to_numpy(np.float64), None,
                                     np.arange(len(expression)) + 1, expression_transform)
        else:
            expression_path = expression
            expression = read_expression(expression, expression_transform)
        genes = join_expression(genes, expression, source=expression_path)
    genome_obj = _open_genome(genome)
    if "expression" not in genes.columns:
        genes = genes.assign(expression=np.nan)
    if "strand" not in genes.columns:
        genes = genes.assign(strand="+")

    # Resolve chromosome aliases (chr1 <-> 1) once per name, so candidates match across files.
    resolve = getattr(genome_obj, "resolve", None)
    if resolve is not None:
        names = {c: resolve(c) for c in pd.unique(pd.concat([genes["chrom"], elements["chrom"]]))}
        genes = genes.assign(chrom=genes["chrom"].map(names))
        elements = elements.assign(chrom=elements["chrom"].map(names))

    n_genes, m = len(genes), int(max_enhancers)
    cand = select_candidates(genes, elements, max_enhancers=m, max_distance=max_distance,
                             promoter_length=promoter_length)
    contact_fn = contacts if contacts is not None else _default_contacts(hic)
    contact_values = (np.asarray(contact_fn(_contact_pairs(genes, elements, cand, promoter_length)),
                                 dtype=np.float32) if len(cand) else np.zeros(0, np.float32))
    if contact_values.shape != (len(cand),):
        raise InputError(f"contacts returned shape {contact_values.shape}, expected ({len(cand)},)",
                         hic, field="contact")
    contact_values = np.nan_to_num(contact_values, nan=0.0)

    feature_columns = gene_feature_columns(genes)
    gi, slot, ei = (cand[c].to_numpy() for c in ("gene_index", "slot", "element_index"))

    # Small per-slot tables are built whole in memory; sequences are streamed by gene chunk.
    mask = np.zeros((n_genes, m), bool)
    mask[gi, slot] = True
    distance = np.zeros((n_genes, m), np.int32)
    distance[gi, slot] = cand["distance"].to_numpy()
    activity = np.zeros((n_genes, m, len(ACTIVITY_COLUMNS)), np.float32)
    activity[gi, slot] = elements[list(ACTIVITY_COLUMNS)].to_numpy(np.float32)[ei]
    contact = np.zeros((n_genes, m), np.float32)
    contact[gi, slot] = contact_values
    starts = np.full((n_genes, m), -1, np.int64)
    ends = np.full((n_genes, m), -1, np.int64)
    starts[gi, slot] = elements["start"].to_numpy(np.int64)[ei]
    ends[gi, slot] = elements["end"].to_numpy(np.int64)[ei]
    names = np.full((n_genes, m), "", dtype=object)
    names[gi, slot] = elements["name"].astype(str).to_numpy()[ei]
    expression_raw = genes["expression"].to_numpy(np.float32)
    gene_features = genes[feature_columns].to_numpy(np.float32) if feature_columns else \
        np.zeros((n_genes, 0), np.float32)

    tss = genes["tss"].to_numpy(np.int64)
    chroms = genes["chrom"].astype(str).to_numpy()
    centres = (starts + ends) // 2
    str_dt = h5py.string_dtype()
    chunk = max(1, min(chunk_genes, n_genes))
    compress = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        promoter_ds = h5.create_dataset("promoter", (n_genes, promoter_length), np.uint8,
                                        chunks=(chunk, promoter_length), **compress)
        enhancer_ds = h5.create_dataset("enhancers", (n_genes, m, enhancer_length), np.uint8,
                                        chunks=(min(chunk, 8), m, enhancer_length), **compress)
        small = {"enhancer_mask": mask, "distance": distance, "activity": activity, "contact": contact,
                 "enhancer_start": starts, "enhancer_end": ends, "gene_features": gene_features,
                 "expression": (np.log1p(expression_raw) if expression_transform == "log1p"
                                else expression_raw),
                 "expression_raw": expression_raw, "tss": tss}
        for key, value in small.items():
            h5.create_dataset(key, data=value, **(compress if value.size else {}))
        h5.create_dataset("enhancer_name", data=names.astype(str).astype(object), dtype=str_dt)
        for key in ("gene", "chrom", "strand"):
            h5.create_dataset(key, data=genes[key].astype(str).to_numpy(dtype=object), dtype=str_dt)
        with progress(total=n_genes, desc="encode genes", unit="gene") as bar:
            for lo in range(0, n_genes, chunk):
                hi = min(lo + chunk, n_genes)
                promoter_ds[lo:hi] = genome_obj.fetch_windows(
                    chroms[lo:hi], tss[lo:hi] - promoter_length // 2, promoter_length)
                block = np.full((hi - lo, m, enhancer_length), N_CODE, np.uint8)
                filled = mask[lo:hi]
                if filled.any():
                    rows = np.nonzero(filled)
                    block[rows] = genome_obj.fetch_windows(
                        chroms[lo:hi][rows[0]], centres[lo:hi][filled] - enhancer_length // 2,
                        enhancer_length)
                enhancer_ds[lo:hi] = block
                bar.update(hi - lo)
        from epitools import __version__

        h5.attrs.update({
            "kind": "genes", "encoding": "onehot", "promoter_length": promoter_length,
            "enhancer_length": enhancer_length, "max_enhancers": m, "max_distance": max_distance,
            "expression_transform": expression_transform, "activity_columns": list(ACTIVITY_COLUMNS),
            "gene_feature_columns": feature_columns, "n_genes": n_genes,
            "genome": os.fspath(genome) if isinstance(genome, (str, os.PathLike)) else type(genome).__name__,
            "genome_checksum": genome_obj.checksum() if hasattr(genome_obj, "checksum") else "",
            "hic": os.fspath(hic) if hic is not None else "",
            "genes_sha256": file_checksum(genes_path) if genes_path is not None else "",
            "elements_sha256": file_checksum(elements_path) if elements_path is not None else "",
            "expression_source": os.fspath(expression_path) if expression_path is not None else
            ("series" if expression is not None else "genes"),
            "expression_sha256": file_checksum(expression_path) if expression_path is not None else "",
            "n_expressed": int(np.isfinite(expression_raw).sum()),
            "tool_version": __version__,
        })
    n_padded = getattr(genome_obj, "n_padded", None)
    log.info("gene store %s: %d genes, %d candidate enhancers (mean %.1f per gene, max %d)%s", out,
             n_genes, len(cand), len(cand) / max(n_genes, 1), m,
             f", {n_padded} windows N-padded" if n_padded else "")
    return Path(out)


class GeneStore:
    """Reader of a gene-level store.

    Parameters
    ----------
    path : path
        An ``.h5`` written by :func:`build_gene_store`.

    The file is opened lazily in each process, so a store can back a multi-worker DataLoader.
    """

    ARRAYS = ("promoter", "enhancers", "enhancer_mask", "distance", "activity", "contact",
              "gene_features", "expression")

    def __init__(self, path):
        self.path = Path(path)
        with h5py.File(self.path, "r") as h5:
            if h5.attrs.get("kind") != "genes":
                raise InputError(f"not a gene-level store (kind={h5.attrs.get('kind')!r})", self.path,
                                 field="kind")
            self.attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in h5.attrs.items()}
            self._len = int(h5["expression"].shape[0])
        self._h5 = None
        self._pid = None

    def __len__(self) -> int:
        return self._len

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def read(self, indices, keys=ARRAYS) -> dict:
        """Arrays of genes ``indices`` (any order) keyed by dataset name."""
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        unique, inverse = np.unique(indices[order], return_inverse=True)
        h5 = self._file()
        out = {}
        for key in keys:
            if not unique.size:
                out[key] = h5[key][:0]
                continue
            in_sorted_order = h5[key][unique][inverse]
            restored = np.empty_like(in_sorted_order)
            restored[order] = in_sorted_order
            out[key] = restored
        return out

    def genes(self) -> pd.DataFrame:
        """Gene table: ``gene chrom tss strand expression`` (expression log1p-transformed)."""
        h5 = self._file()
        return pd.DataFrame({
            "gene": h5["gene"].asstr()[:], "chrom": h5["chrom"].asstr()[:], "tss": h5["tss"][:],
            "strand": h5["strand"].asstr()[:], "expression": h5["expression"][:],
        })

    def candidates(self) -> pd.DataFrame:
        """One row per filled slot: ``gene_index slot gene chrom tss enhancer_name enhancer_start
        enhancer_end distance dnase h3k27ac contact``."""
        h5 = self._file()
        mask = h5["enhancer_mask"][:]
        gi, slot = np.nonzero(mask)
        activity = h5["activity"][:][gi, slot]
        genes = self.genes()
        return pd.DataFrame({
            "gene_index": gi, "slot": slot, "gene": genes["gene"].to_numpy()[gi],
            "chrom": genes["chrom"].to_numpy()[gi], "tss": genes["tss"].to_numpy()[gi],
            "enhancer_name": h5["enhancer_name"].asstr()[:][gi, slot],
            "enhancer_start": h5["enhancer_start"][:][gi, slot],
            "enhancer_end": h5["enhancer_end"][:][gi, slot],
            "distance": h5["distance"][:][gi, slot],
            "dnase": activity[:, 0], "h3k27ac": activity[:, 1],
            "contact": h5["contact"][:][gi, slot],
        })

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"] = None
        state["_pid"] = None
        return state


def open_gene_store(path) -> GeneStore:
    """Open a gene-level store for reading."""
    return GeneStore(path)
