"""One entry point for Hi-C files: ``.hic`` (hictkpy) or ``.cool``/``.mcool`` (cooler).

The format is told by the file's first bytes (``HIC\\0`` for Juicer files), not its suffix, so
a renamed file still opens; everything else is handed to cooler, which names the problem
when it is not a cooler either.
"""

from __future__ import annotations

from dataclasses import dataclass

from epitools.contacts import cooler_contacts as cc
from epitools.contacts import hic_contacts as hc
from epitools.contacts.cooler_contacts import ChromContacts


@dataclass
class ContactMatrix:
    """A Hi-C matrix at one resolution with its balancing chosen.

    Attributes
    ----------
    handle : cooler.Cooler or HicMatrix
    format : {"cool", "hic"}
    balance : str or None
        Balancing column (cooler) or normalisation vector (``.hic``); None for raw counts.
    divisive : bool or None
        Whether the balancing divides the counts (None without balancing).
    """

    handle: object
    format: str
    balance: str | None
    divisive: bool | None

    @property
    def binsize(self) -> int:
        return int(self.handle.binsize)

    @property
    def chromnames(self) -> list[str]:
        return list(self.handle.chromnames)

    @property
    def filename(self) -> str:
        return str(self.handle.filename)

    def nbins(self, chrom: str) -> int:
        lo, hi = self.handle.extent(chrom)
        return int(hi - lo)

    def chrom_contacts(self, chrom: str, bin1, bin2, max_diag: int = 0) -> ChromContacts:
        """Contacts of (bin1, bin2) pairs of one chromosome (see :class:`ChromContacts`)."""
        if self.format == "hic":
            return hc.hic_chrom_contacts(self.handle, chrom, bin1, bin2, self.balance,
                                         divisive=self.divisive is not False, max_diag=max_diag)
        return cc.chrom_contacts(self.handle, chrom, bin1, bin2, self.balance,
                                 divisive=bool(self.divisive), max_diag=max_diag)


def list_resolutions(path) -> list[int]:
    """Resolutions (bp) stored in a ``.hic``, ``.cool`` or ``.mcool``, ascending."""
    return hc.list_hic_resolutions(path) if hc.is_hic(path) else cc.list_resolutions(path)


def open_contact_matrix(path, resolution: int | None = None, balance: str = "auto",
                        divisive_weights: bool | None = None) -> ContactMatrix:
    """Open a Hi-C file and choose its resolution and balancing.

    Parameters
    ----------
    path : str or os.PathLike
        ``.hic`` (v8/v9), ``.cool``, ``.mcool`` or ``file::group`` URI.
    resolution : int, optional
        Default 5 kb (ABC's resolution) or the coarsest one finer than it, else the finest.
    balance : str
        One of :data:`~epitools.contacts.cooler_contacts.BALANCE_CHOICES`; ``.hic`` names map
        through :data:`~epitools.contacts.hic_contacts.HIC_NORMALIZATION`.
    divisive_weights : bool, optional
        Override of the divisive/multiplicative rule: cooler's for ``.cool`` (see
        :func:`~epitools.contacts.cooler_contacts.weights_are_divisive`), divisive for ``.hic``.

    Returns
    -------
    ContactMatrix
    """
    if hc.is_hic(path):
        hic = hc.open_hic(path, resolution)
        norm = hc.choose_hic_normalization(hic, balance)
        divisive = None if norm is None else (True if divisive_weights is None else bool(divisive_weights))
        return ContactMatrix(handle=hic, format="hic", balance=norm, divisive=divisive)
    clr = cc.open_cooler(path, resolution)
    column = cc.choose_balance(clr, balance)
    return ContactMatrix(handle=clr, format="cool", balance=column,
                         divisive=cc.weights_are_divisive(clr, column, divisive_weights))
