"""Read Hi-C contacts for many bin pairs from a Juicer ``.hic`` file (v8/v9) through hictkpy.

Pixels are fetched as raw counts, one band of rows of one chromosome at a time (at most
``chunksize`` cells per band, so memory is bounded), and balanced here with the stored
normalisation vector, as Juicer defines it: divisive, ``count / (v[i] * v[j])``; a bin whose
value is 0 or NaN is masked. Balancing here rather than in hictk keeps the masked-bin rule and
the ``--multiplicative-weights`` override identical to the cooler path, whose accumulator
(:func:`~epitools.contacts.cooler_contacts.accumulate_contacts`) matches the queries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from epitools.contacts.cooler_contacts import ChromContacts, accumulate_contacts, choose_resolution
from epitools.errors import InputError, UsageError

log = logging.getLogger(__name__)

#: ``--balance`` name -> the normalisation's name in a ``.hic`` file. A cooler's ``weight``
#: (ICE) is stored as ``ICE`` in a ``.hic`` (hictk's convention).
HIC_NORMALIZATION = {"weight": "ICE", "ICE": "ICE", "KR": "KR", "SCALE": "SCALE", "VC": "VC",
                     "VC_SQRT": "VC_SQRT"}
#: ``--balance auto``: the first of these the file holds (Juicer's default SCALE first).
AUTO_ORDER = ("SCALE", "KR", "ICE", "VC_SQRT", "VC")
_CELLS = 20_000_000


def is_hic(path) -> bool:
    """Whether ``path`` starts with the ``.hic`` magic string ``HIC\\0``."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"HIC\0"
    except OSError:
        return False


def list_hic_resolutions(path) -> list[int]:
    """Base-pair resolutions stored in a ``.hic`` file, ascending."""
    import hictkpy

    try:
        return sorted(int(r) for r in hictkpy.MultiResFile(str(path)).resolutions())
    except RuntimeError as exc:
        raise InputError(f"not a readable .hic file ({exc})", path=path) from exc


@dataclass
class HicMatrix:
    """One resolution of a ``.hic`` file.

    Attributes
    ----------
    file : hictkpy.File
    filename : str
    binsize : int
    chromsizes : dict
        Chromosome -> length, in file order (without Juicer's ``All``).
    """

    file: object
    filename: str
    binsize: int
    chromsizes: dict

    @property
    def chromnames(self) -> list[str]:
        return list(self.chromsizes)

    def nbins(self, chrom: str) -> int:
        return -(-int(self.chromsizes[chrom]) // self.binsize)

    def extent(self, chrom: str) -> tuple[int, int]:
        """Genome-wide bin range [lo, hi) of a chromosome, as ``cooler.Cooler.extent``."""
        lo = 0
        for name in self.chromsizes:
            if name == chrom:
                return lo, lo + self.nbins(chrom)
            lo += self.nbins(name)
        raise KeyError(chrom)


def open_hic(path, resolution: int | None = None) -> HicMatrix:
    """Open a ``.hic`` at ``resolution`` (default as :func:`choose_resolution`)."""
    import hictkpy

    res = choose_resolution(list_hic_resolutions(path), resolution, path)
    try:
        handle = hictkpy.File(str(path), res)
    except RuntimeError as exc:
        raise InputError(f"cannot open the .hic file at {res} bp ({exc})", path=path) from exc
    sizes = {c: int(s) for c, s in handle.chromosomes().items() if c.upper() != "ALL"}
    return HicMatrix(file=handle, filename=str(path), binsize=res, chromsizes=sizes)


def choose_hic_normalization(hic: HicMatrix, balance: str = "auto") -> str | None:
    """The ``.hic`` normalisation used to balance contacts, or None for raw counts.

    ``auto`` takes the first of :data:`AUTO_ORDER` the file holds, else raw counts.
    """
    available = [str(n) for n in hic.file.avail_normalizations()]
    if balance in ("none", "NONE"):
        return None
    if balance == "auto":
        return next((n for n in AUTO_ORDER if n in available), None)
    name = HIC_NORMALIZATION.get(balance)
    if name is None or name not in available:
        raise UsageError(f"--balance {balance}: no {name or balance} normalisation in {hic.filename} "
                         f"at {hic.binsize} bp; available: {', '.join(available) or 'none (raw counts only)'}")
    return name


def hic_bin_factors(hic: HicMatrix, chrom: str, normalization: str | None,
                    divisive: bool = True) -> np.ndarray:
    """Per-bin factor multiplying the counts of one chromosome, shape (nbins,).

    ``1 / v`` for a divisive vector (Juicer's), ``v`` when told the vector multiplies; ones
    without a normalisation. Non-finite where the bin is masked.
    """
    nb = hic.nbins(chrom)
    if normalization is None:
        return np.ones(nb)
    lo, hi = hic.extent(chrom)
    vector = np.asarray(hic.file.weights(normalization, divisive=True), dtype=np.float64)[lo:hi]
    if not divisive:
        return np.where(vector == 0, np.nan, vector)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / vector


def hic_chrom_contacts(hic: HicMatrix, chrom: str, bin1, bin2, normalization: str | None,
                       divisive: bool = True, max_diag: int = 0,
                       chunksize: int = _CELLS) -> ChromContacts:
    """Look up contacts of (bin1, bin2) pairs within one chromosome of a ``.hic``.

    Parameters
    ----------
    hic : HicMatrix
    chrom : str
        Chromosome as named in the file.
    bin1, bin2 : int arrays, shape (n,)
        Bin indices relative to the chromosome's first bin; order does not matter.
    normalization : str or None
        Name of the file's normalisation vector, or None for raw counts.
    divisive : bool
        Divide by the vector (Juicer's definition) or multiply.
    max_diag : int
        Accumulate diagonal sums for offsets ``0..max_diag``.
    chunksize : int
        At most this many matrix cells are fetched per band of rows.

    Returns
    -------
    ChromContacts
    """
    nb = hic.nbins(chrom)
    size = int(hic.chromsizes[chrom])
    res = hic.binsize
    factors = hic_bin_factors(hic, chrom, normalization, divisive)
    rows = max(1, chunksize // max(nb, 1))

    def blocks():
        for a in range(0, nb, rows):
            b = min(a + rows, nb)
            # Upper-triangle query: rows a..b against columns a..end of the chromosome.
            coo = hic.file.fetch(f"{chrom}\t{a * res}\t{min(b * res, size)}",
                                 f"{chrom}\t{a * res}\t{size}", count_type=float,
                                 query_type="BED").to_coo()
            r = coo.row.astype(np.int64) + a
            c = coo.col.astype(np.int64) + a
            keep = c >= r
            r, c = r[keep], c[keep]
            with np.errstate(invalid="ignore"):
                v = coo.data[keep].astype(np.float64) * factors[r] * factors[c]
            yield r, c, v

    return accumulate_contacts(blocks(), nb, bin1, bin2, factors, max_diag)
