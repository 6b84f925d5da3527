"""Signal tracks: bedGraph and bigWig reading (signal or read counts over elements) and
writing, and chromosome sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

from epitools.errors import InputError
from epitools.io.atomic import atomic_path


def read_bedgraph(path) -> pd.DataFrame:
    """Read a (optionally gzipped) bedGraph: columns ``chrom start end value``.

    ``track``/``browser``/``#`` lines are skipped; a non-numeric field is an InputError
    naming its line.
    """
    rows = pd.read_csv(path, sep="\t", header=None, comment="#", dtype=str,
                       names=["chrom", "start", "end", "value"], skip_blank_lines=False)
    rows = rows[~rows["chrom"].fillna("").str.startswith(("track", "browser"))]
    rows = rows[rows["chrom"].notna()]
    for name in ("start", "end", "value"):
        num = pd.to_numeric(rows[name], errors="coerce")
        bad = num.isna()
        if bad.any():
            first = rows.index[bad.to_numpy()][0]
            raise InputError(f"not a number: {rows[name].loc[first]!r}", path=path,
                             line=int(first) + 1, field=name)
        rows[name] = num
    return rows.astype({"start": np.int64, "end": np.int64, "value": np.float64}).reset_index(drop=True)


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


def element_signal(elements: pd.DataFrame, path, exact: bool = True) -> np.ndarray:
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

        bw = pyBigWig.open(str(path))
        known = bw.chroms()
        out = np.zeros(len(chrom))
        for name in pd.unique(chrom):
            if name not in known:
                continue
            sel = np.flatnonzero(chrom == name)
            for i in sel:  # pyBigWig has no batch API; one C call per element
                val = bw.stats(name, int(start[i]), int(max(end[i], start[i] + 1)), type="mean")[0]
                out[i] = (val or 0.0) * (end[i] - start[i])
        bw.close()
        return out
    track = read_bedgraph(path)
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
    if path.suffix in (".sizes", ".fai", ".txt", ".tsv") or path.name.endswith("chrom.sizes"):
        sizes = {}
        with open(path) as fh:
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
