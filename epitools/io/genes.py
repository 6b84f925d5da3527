"""Genes, candidate elements and expression tables (the inputs of a gene store).

- genes: ``gene chrom tss [strand] [expression] [hl_1 .. hl_8]`` (TSV with header);
- elements: BED ``chrom start end name dnase h3k27ac`` (header optional);
- expression: ``gene expression`` (TSV/CSV with header; other columns ignored).

Every reader names the file, line and field of the first bad value.
"""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.io.pairs.text import naming_bad_bytes

log = logging.getLogger(__name__)

GENE_COLUMNS = ("gene", "chrom", "tss")
ELEMENT_COLUMNS = ("chrom", "start", "end", "name", "dnase", "h3k27ac")
ACTIVITY_COLUMNS = ("dnase", "h3k27ac")
EXPRESSION_TRANSFORMS = ("log1p", "none")


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
    with naming_bad_bytes(path):
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
        check_expression_values(df["expression"].to_numpy(), path, np.arange(len(df)) + 2,
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


def check_expression_values(values: np.ndarray, path, lines: np.ndarray, transform: str) -> None:
    negative = values < 0
    if negative.any() and transform == "log1p":
        i = _first_bad(negative)
        raise InputError("expression must be >= 0 (it is log1p-transformed; use the "
                         "'none' transform for values already on a log scale)", path,
                         line=int(lines[i]), field="expression")


def _delimiter(path) -> str:
    opener = gzip.open if str(path).endswith(".gz") else open
    with naming_bad_bytes(path), opener(path, "rt") as fh:
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
    sep = _delimiter(path)
    with naming_bad_bytes(path):
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=["", "NA", "nan", "NaN"])
    missing = [c for c in ("gene", "expression") if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}",
                         path, line=1, field=missing[0])
    if df["gene"].isna().any():
        i = _first_bad(df["gene"].isna().to_numpy())
        raise InputError("empty gene name", path, line=i + 2, field="gene")
    values = _numeric(df, "expression", path, integer=False, header_lines=1)
    check_expression_values(values, path, np.arange(len(df)) + 2, expression_transform)
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
    with naming_bad_bytes(path):
        with open(path) as fh:
            first = fh.readline().rstrip("\n").split("\t")
        has_header = first[0].startswith("#") or len(first) < 2 or not first[1].strip().isdigit()
        df = pd.read_csv(path, sep="\t", dtype=str, header=0 if has_header else None, keep_default_na=False)
    if has_header:
        df.columns = [c.lstrip("#") for c in df.columns]
    else:
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
