"""Reference genome access: FASTA (plain or bgzip) and 2bit, as base-code arrays.

Each chromosome is read once and kept as a uint8 base-code array
(A=0 C=1 G=2 T=3 N=4), so fetching a window is a slice, not a file read.
Chromosome names are matched exactly first, then through the usual aliases
(``chr1``/``1``, ``chrM``/``MT``); each alias used is logged once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from epitools.data.encoding import CODE_TABLE, N_CODE
from epitools.errors import GenomeError

log = logging.getLogger(__name__)

_TWOBIT_MAGIC = (0x1A412743).to_bytes(4, "little")
_TWOBIT_MAGIC_BE = (0x1A412743).to_bytes(4, "big")
_MITO = ("chrM", "MT", "chrMT", "M")


def is_twobit(path) -> bool:
    """True when ``path`` starts with the 2bit signature (either byte order)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head in (_TWOBIT_MAGIC, _TWOBIT_MAGIC_BE)


def file_checksum(path, algorithm: str = "sha256", block: int = 1 << 22) -> str:
    """Hex digest of a file, read in blocks (``algorithm:hexdigest``)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            digest.update(chunk)
    return f"{algorithm}:{digest.hexdigest()}"


def _alias_candidates(name: str) -> list[str]:
    """Other spellings a chromosome name may have in a genome file."""
    if name in _MITO:
        return [m for m in _MITO if m != name]
    if name.startswith("chr"):
        return [name[3:]]
    return ["chr" + name]


class _FastaSource:
    def __init__(self, path: Path):
        import pyfaidx

        try:
            self._fasta = pyfaidx.Fasta(str(path), as_raw=True, sequence_always_upper=False,
                                        rebuild=False, build_index=True)
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat,
                ValueError, OSError, ImportError) as exc:
            raise GenomeError(f"cannot read FASTA genome: {exc}", path=path) from exc
        self.sizes = {name: int(rec.rlen) for name, rec in self._fasta.faidx.index.items()}

    def read(self, name: str) -> bytes:
        seq = self._fasta[name][0:self.sizes[name]]
        return seq.encode("ascii") if isinstance(seq, str) else bytes(seq)

    def close(self):
        self._fasta.close()


class _TwoBitSource:
    def __init__(self, path: Path):
        import py2bit

        try:
            self._tb = py2bit.open(str(path))
        except RuntimeError as exc:
            raise GenomeError(f"cannot read 2bit genome: {exc}", path=path) from exc
        self.sizes = {name: int(size) for name, size in self._tb.chroms().items()}

    def read(self, name: str) -> bytes:
        return self._tb.sequence(name, 0, self.sizes[name]).encode("ascii")

    def close(self):
        self._tb.close()


class Genome:
    """A reference genome read as base codes.

    Parameters
    ----------
    path : str or os.PathLike
        FASTA (plain, or bgzip with ``.fai``/``.gzi`` made when missing) or 2bit.
    max_cached_bases : int, optional
        Keep at most this many bases of decoded chromosomes in memory (least
        recently used are dropped first); None keeps every chromosome read.

    Attributes
    ----------
    chrom_sizes : dict[str, int]
        Chromosome lengths in file order.
    n_padded : int
        Windows fetched so far that reached past a chromosome end (N-padded).
    aliases_used : dict[str, str]
        Requested name -> name in the file, for every alias resolved.
    """

    def __init__(self, path, max_cached_bases: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise GenomeError("genome file not found", path=self.path)
        self._source = _TwoBitSource(self.path) if is_twobit(self.path) else _FastaSource(self.path)
        self.chrom_sizes: dict[str, int] = dict(self._source.sizes)
        if not self.chrom_sizes:
            raise GenomeError("genome has no sequences", path=self.path)
        self.max_cached_bases = max_cached_bases
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._resolved: dict[str, str] = {}
        self.aliases_used: dict[str, str] = {}
        self.n_padded = 0

    def __repr__(self) -> str:
        return f"Genome({os.fspath(self.path)!r}, {len(self.chrom_sizes)} sequences)"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Release the file handle and the cached chromosomes."""
        self._cache.clear()
        self._source.close()

    def checksum(self) -> str:
        """``sha256:<hex>`` of the genome file (for store provenance)."""
        return file_checksum(self.path)

    def resolve(self, chrom: str) -> str:
        """The genome's name for ``chrom``, trying ``chr`` and mitochondrial aliases.

        Raises
        ------
        GenomeError
            When neither the name nor an alias is in the genome; the message
            lists a few known names.
        """
        chrom = str(chrom)
        hit = self._resolved.get(chrom)
        if hit is not None:
            return hit
        if chrom in self.chrom_sizes:
            self._resolved[chrom] = chrom
            return chrom
        for alias in _alias_candidates(chrom):
            if alias in self.chrom_sizes:
                self._resolved[chrom] = alias
                self.aliases_used[chrom] = alias
                log.info("chromosome %r is called %r in %s; using the alias", chrom, alias,
                         self.path.name)
                return alias
        known = list(self.chrom_sizes)
        shown = ", ".join(known[:5]) + (f", ... ({len(known)} in total)" if len(known) > 5 else "")
        raise GenomeError(f"chromosome {chrom!r} is not in the genome (known: {shown})",
                          path=self.path)

    def codes(self, chrom: str) -> np.ndarray:
        """Whole chromosome as uint8 base codes, shape (chrom_size,); read once, then cached."""
        name = self.resolve(chrom)
        arr = self._cache.get(name)
        if arr is not None:
            self._cache.move_to_end(name)
            return arr
        raw = np.frombuffer(self._source.read(name), dtype=np.uint8)
        arr = CODE_TABLE[raw]
        arr.flags.writeable = False
        self._cache[name] = arr
        if self.max_cached_bases is not None:
            while len(self._cache) > 1 and sum(a.size for a in self._cache.values()) > self.max_cached_bases:
                self._cache.popitem(last=False)
        return arr

    def fetch_codes(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes of ``chrom:start-end`` (0-based, half-open), N-padded off the ends.

        ``start`` may be negative and ``end`` past the chromosome end; the
        padded part is N (code 4). Returns uint8, shape (end - start,).
        """
        start, end = int(start), int(end)
        if end < start:
            raise ValueError(f"end {end} < start {start}")
        arr = self.codes(chrom)
        out = np.full(end - start, N_CODE, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, arr.size)
        if hi > lo:
            out[lo - start:hi - start] = arr[lo:hi]
        if start < 0 or end > arr.size:
            self.n_padded += 1
        return out

    def fetch_windows(self, chroms, starts, length: int) -> np.ndarray:
        """Fixed-length windows as base codes.

        Parameters
        ----------
        chroms : array-like of str, shape (n,)
        starts : array-like of int, shape (n,)
            0-based window starts; may be negative or run past the end (N-padded).
        length : int
            Window length.

        Returns
        -------
        numpy.ndarray
            uint8, shape (n, length).
        """
        chroms = np.asarray(chroms, dtype=object)
        starts = np.asarray(starts, dtype=np.int64)
        out = np.empty((len(starts), length), dtype=np.uint8)
        if len(starts) == 0:
            return out
        names, inverse = np.unique(chroms.astype(str), return_inverse=True)
        for j, name in enumerate(names):
            rows = np.flatnonzero(inverse == j)
            arr = self.codes(name)
            s = starts[rows]
            inside = (s >= 0) & (s + length <= arr.size)
            if arr.size >= length and inside.any():
                # one row copy per window from a strided view: no index matrix
                view = np.lib.stride_tricks.sliding_window_view(arr, length)
                out[rows[inside]] = view[s[inside]]
            for row, st in zip(rows[~inside], s[~inside]):  # only the few padded windows
                out[row] = N_CODE
                lo, hi = max(st, 0), min(st + length, arr.size)
                if hi > lo:
                    out[row, lo - st:hi - st] = arr[lo:hi]
            self.n_padded += int((~inside).sum())
        return out
