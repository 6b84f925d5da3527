"""Signal tracks: bedGraph and bigWig reading (signal or read counts over elements) and
writing, and chromosome sizes."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

from epitools.errors import InputError
from epitools.io.atomic import atomic_path
from epitools.io.pairs.text import naming_bad_bytes, open_text

log = logging.getLogger(__name__)


_HEADER_PREFIXES = ("track", "browser", "#")


def _leading_header_lines(path) -> int:
    """Number of ``track``/``browser``/``#`` and blank lines before the first data line."""
    skip = 0
    with open_text(path) as fh:
        for line in fh:
            if line.strip() and not line.startswith(_HEADER_PREFIXES):
                break
            skip += 1
    return skip


def read_bedgraph(path, merge_overlaps: bool = False) -> pd.DataFrame:
    """Read a (optionally gzipped) bedGraph: columns ``chrom start end value``.

    ``track``/``browser``/``#`` lines are skipped; a non-numeric field, undecodable or
    truncated (gzip) bytes and overlapping intervals are each an InputError naming the file
    and line. With ``merge_overlaps`` overlapping intervals are merged instead: their values
    add up over the bases they share (see :func:`merge_overlapping`).
    """
    with naming_bad_bytes(path):
        skip = _leading_header_lines(path)
        with open_text(path) as fh:
            try:
                rows = pd.read_csv(fh, sep="\t", header=None, dtype=str, skiprows=skip, index_col=False,
                                   skip_blank_lines=False)
            except pd.errors.EmptyDataError:
                rows = pd.DataFrame(columns=range(4), dtype=str)
            except pd.errors.ParserError as err:
                match = re.search(r"line (\d+), saw (\d+)", str(err))
                line = int(match.group(1)) + skip if match else None
                found = f", found {match.group(2)}" if match else ""
                raise InputError(f"expected 4 tab-separated fields (chrom start end value){found}",
                                 path=path, line=line) from None
    if rows.shape[1] != 4:
        raise InputError(f"expected 4 tab-separated fields (chrom start end value), found {rows.shape[1]}",
                         path=path, line=skip + 1)
    rows.columns = ["chrom", "start", "end", "value"]
    rows.index = rows.index + skip + 1  # the file line of every row
    rows = rows[rows["chrom"].notna() & ~rows["chrom"].fillna("").str.startswith(_HEADER_PREFIXES)]
    for name in ("start", "end", "value"):
        num = pd.to_numeric(rows[name], errors="coerce")
        bad = num.isna()
        if bad.any():
            first = rows.index[bad.to_numpy()][0]
            raise InputError(f"not a number: {rows[name].loc[first]!r}", path=path,
                             line=int(first), field=name)
        rows[name] = num
    rows = rows.astype({"start": np.int64, "end": np.int64, "value": np.float64})
    bad = rows["end"] < rows["start"]
    if bad.any():
        first = rows.index[bad.to_numpy()][0]
        raise InputError(f"need start <= end, got {rows.at[first, 'start']}-{rows.at[first, 'end']}",
                         path=path, line=int(first), field="end")
    overlap = first_overlap(rows)
    if overlap is not None and not merge_overlaps:
        later, earlier = sorted(overlap, reverse=True)
        a, b = rows.loc[later], rows.loc[earlier]
        raise InputError(f"interval {a['chrom']}:{a['start']}-{a['end']} overlaps "
                         f"{b['chrom']}:{b['start']}-{b['end']} of line {earlier}; bedGraph intervals "
                         "must not overlap (--merge-overlaps adds up the signal of overlapping "
                         "intervals instead)", path=path, line=int(later))
    if overlap is not None:
        merged = merge_overlapping(rows)
        log.info("%s: merged overlapping intervals, %d intervals -> %d segments", path, len(rows), len(merged))
        return merged
    return rows.reset_index(drop=True)


def first_overlap(track: pd.DataFrame) -> tuple | None:
    """Index labels ``(i, j)`` of two overlapping intervals of ``track`` (``chrom start end``),
    ``i`` the first in position order that overlaps an earlier one ``j``; None when none do."""
    if len(track) < 2:
        return None
    codes = pd.factorize(track["chrom"])[0]
    start, end = track["start"].to_numpy(), track["end"].to_numpy()
    order = np.lexsort((start, codes))
    c, s, e = codes[order], start[order], end[order]
    # largest end so far within the chromosome, up to the previous interval
    reach = pd.Series(e).groupby(c).cummax().groupby(c).shift(1).to_numpy()
    hits = np.flatnonzero(s < np.nan_to_num(reach, nan=-1))
    if not hits.size:
        return None
    k = hits[0]
    before = np.flatnonzero((c[:k] == c[k]) & (e[:k] > s[k]))
    return track.index[order[k]], track.index[order[before[0]]]


def merge_overlapping(track: pd.DataFrame) -> pd.DataFrame:
    """Disjoint segments of ``track`` whose value at each base is the sum of the values of the
    intervals covering it (bases no interval covers are left out).

    Returns
    -------
    pandas.DataFrame
        ``chrom start end value``, sorted by chromosome (first appearance) and start.
    """
    parts = []
    for chrom, grp in track.groupby("chrom", sort=False):
        s, e, v = grp["start"].to_numpy(), grp["end"].to_numpy(), grp["value"].to_numpy()
        points = np.unique(np.concatenate([s, e]))
        # difference arrays over the breakpoints: value and coverage change at starts and ends
        dv = np.zeros(points.size)
        dn = np.zeros(points.size, dtype=np.int64)
        np.add.at(dv, np.searchsorted(points, s), v)
        np.add.at(dv, np.searchsorted(points, e), -v)
        np.add.at(dn, np.searchsorted(points, s), 1)
        np.add.at(dn, np.searchsorted(points, e), -1)
        value, covered = np.cumsum(dv)[:-1], np.cumsum(dn)[:-1] > 0
        parts.append(pd.DataFrame({"chrom": chrom, "start": points[:-1][covered],
                                   "end": points[1:][covered], "value": value[covered]}))
    return pd.concat(parts, ignore_index=True).astype({"start": np.int64, "end": np.int64})


def _coverage_from_bedgraph(track: pd.DataFrame, chrom, start, end) -> np.ndarray:
    """Sum of value × overlapping bp per element (bedGraph intervals do not overlap)."""
    out = np.zeros(len(chrom))
    for name, grp in track.groupby("chrom", sort=False):
        sel = np.flatnonzero(chrom == name)
        if not sel.size:
            continue
        g = grp.sort_values("start")
        s, e, v = g["start"].to_numpy(), g["end"].to_numpy(), g["value"].to_numpy()
        # integral of the signal from 0 to x, evaluated by searchsorted over interval ends
        cum = np.concatenate([[0.0], np.cumsum(v * (e - s))])

        def integral(x):
            i = np.searchsorted(e, x, side="right")  # intervals wholly left of x
            partial = np.where(i < s.size, np.clip(x - s[np.minimum(i, s.size - 1)], 0, None), 0)
            return cum[i] + partial * np.where(i < s.size, v[np.minimum(i, s.size - 1)], 0)

        out[sel] = integral(end[sel]) - integral(start[sel])
    return out


def element_signal(elements: pd.DataFrame, path, exact: bool = True, merge_overlaps: bool = False) -> np.ndarray:
    """Signal of a track over each element.

    Parameters
    ----------
    elements : pandas.DataFrame
        Columns ``chrom``, ``start``, ``end``.
    path : str or os.PathLike
        bedGraph (plain or gzipped) or bigWig.
    exact : bool
        For a bedGraph whose intervals are exactly the elements (a read-count table such
        as ABC's ``CountReads.bedgraph``), take each element's value; otherwise, and for
        bigWig, the total coverage (mean signal × length, as ABC counts bigWigs).
    merge_overlaps : bool
        Merge overlapping bedGraph intervals (values add up) instead of refusing them.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
    """
    chrom = elements["chrom"].astype(str).to_numpy()
    start = elements["start"].to_numpy(np.int64)
    end = elements["end"].to_numpy(np.int64)
    suffix = Path(str(path)).suffix.lower()
    if suffix in (".bw", ".bigwig"):
        import pyBigWig

        try:
            bw = pyBigWig.open(str(path))
        except RuntimeError:
            bw = None
        if bw is None or not bw.isBigWig():
            raise InputError("not a readable bigWig file (corrupt, truncated or another format)", path=path)
        try:
            known = bw.chroms()
            out = np.zeros(len(chrom))
            for name in pd.unique(chrom):
                if name not in known:
                    continue
                sel = np.flatnonzero(chrom == name)
                for i in sel:  # pyBigWig has no batch API; one C call per element
                    val = bw.stats(name, int(start[i]), int(max(end[i], start[i] + 1)), type="mean")[0]
                    out[i] = (val or 0.0) * (end[i] - start[i])
        except RuntimeError as exc:
            raise InputError(f"corrupt or truncated bigWig data ({exc})", path=path) from None
        finally:
            bw.close()
        return out
    track = read_bedgraph(path, merge_overlaps=merge_overlaps)
    if exact:
        keyed = track.drop_duplicates(["chrom", "start", "end"]).set_index(["chrom", "start", "end"])["value"]
        idx = pd.MultiIndex.from_arrays([chrom, start, end])
        vals = keyed.reindex(idx).to_numpy()
        if not np.isnan(vals).any():
            return vals.astype(np.float64)
    return _coverage_from_bedgraph(track, chrom, start, end)


def read_chrom_sizes(path) -> dict:
    """Chromosome sizes from a ``chrom.sizes``/``.fai`` file or a genome (FASTA/2bit)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("chromosome sizes file not found", path=path)
    table = path.with_suffix("") if path.suffix == ".gz" else path  # sizes tables may be gzipped
    if table.suffix in (".sizes", ".fai", ".txt", ".tsv") or table.name.endswith("chrom.sizes"):
        sizes = {}
        with naming_bad_bytes(path), open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.rstrip("\n").split("\t")
                try:
                    sizes[fields[0]] = int(fields[1])
                except (IndexError, ValueError) as exc:
                    raise InputError("expected 'chrom<TAB>size'", path=path, line=lineno,
                                     field="size") from exc
        return sizes
    from epitools.io.genome import Genome  # genome.py imports pyfaidx/py2bit: only when needed

    with Genome(path) as genome:
        return dict(genome.chrom_sizes)


def write_bedgraph(segments: pd.DataFrame, path, name: str | None = None) -> Path:
    """Write ``chrom start end value`` segments as bedGraph (with a track line when ``name``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            if name:
                fh.write(f'track type=bedGraph name="{name}"\n')
            segments[["chrom", "start", "end", "value"]].to_csv(
                fh, sep="\t", header=False, index=False, float_format="%.7g")
    return path


def write_bigwig(segments: pd.DataFrame, path, chrom_sizes: dict) -> Path:
    """Segments (sorted, non-overlapping) → bigWig with the genome's chromosome sizes."""
    path = Path(path)
    with atomic_path(path) as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        try:
            bw.addHeader([(c, int(s)) for c, s in chrom_sizes.items()], maxZooms=4)
            if len(segments):
                bw.addEntries(segments["chrom"].astype(str).tolist(),
                              segments["start"].astype(int).tolist(),
                              ends=segments["end"].astype(int).tolist(),
                              values=segments["value"].astype(float).tolist())
        finally:
            bw.close()
    return path
