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

from epitools.io.bases import CODE_TABLE, N_CODE
from epitools.io.cache import index_path
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

        # an index that has to be built goes to the cache folder, never beside the user's file
        try:
            index = index_path(path, ".fai")
            gzi = index_path(path, ".gzi")
        except OSError as exc:
            raise GenomeError(f"cannot prepare the FASTA index: {exc.strerror or exc}", path=path) from exc
        try:
            self._fasta = pyfaidx.Fasta(str(path), indexname=str(index), gzi_indexname=str(gzi),
                                        as_raw=True, sequence_always_upper=False,
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

    def identity(self, checksum: str | None = None) -> dict:
        """What :func:`compare_genomes` compares: path, chromosome lengths and checksum."""
        return {"genome": os.fspath(self.path), "chrom_sizes": dict(self.chrom_sizes),
                "checksum": checksum if checksum is not None else self.checksum()}

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


def genome_identity(attrs: dict, source=None) -> dict | None:
    """The genome identity recorded in store attributes or checkpoint provenance, or None.

    Reads ``genome``, ``genome_checksum`` and ``genome_chrom_sizes`` (JSON or a dict).
    """
    import json

    sizes = attrs.get("genome_chrom_sizes")
    if isinstance(sizes, (str, bytes)):
        sizes = json.loads(sizes) if sizes else None
    checksum = attrs.get("genome_checksum") or None
    if not sizes and not checksum:
        return None
    return {"genome": attrs.get("genome") or "", "chrom_sizes": dict(sizes or {}), "checksum": checksum,
            "source": os.fspath(source) if source is not None else ""}


def compare_genomes(expected: dict | None, found: dict | None, *, allow_mismatch: bool = False) -> dict:
    """Check that two inputs come from the same genome build.

    Parameters
    ----------
    expected, found : dict or None
        Identities (:meth:`Genome.identity` / :func:`genome_identity`), each with a
        ``source`` naming the file it was read from; None when an input records none.
    allow_mismatch : bool
        Warn instead of raising (``--allow-genome-mismatch``).

    Returns
    -------
    dict
        Provenance to record: ``{"genome_match": "same" | "unknown" | "different-checksum" |
        "mismatch-allowed"}`` (+ the first differing chromosome).

    Raises
    ------
    GenomeError
        A chromosome that both name has two lengths: another build (exit 2, both files named).
    """
    if not expected or not found:
        return {"genome_match": "unknown"}
    a, b = expected.get("chrom_sizes") or {}, found.get("chrom_sizes") or {}
    differing = []
    for name, size in a.items():
        other = b.get(name)
        if other is None:
            for alias in _alias_candidates(name):
                other = b.get(alias, other)
        if other is not None and int(other) != int(size):
            differing.append((name, int(size), int(other)))
    if differing:
        name, size, other = differing[0]
        where_a = expected.get("source") or expected.get("genome") or "the first input"
        where_b = found.get("source") or found.get("genome") or "the second input"
        message = (f"genome builds differ: {name} is {size:,} bp in {where_a} but {other:,} bp in "
                   f"{where_b} ({len(differing)} chromosome(s) differ); the inputs come from "
                   f"different assemblies")
        if not allow_mismatch:
            raise GenomeError(message + "; pass --allow-genome-mismatch to go on anyway")
        log.warning("%s; going on (--allow-genome-mismatch)", message)
        return {"genome_match": "mismatch-allowed", "genome_first_difference": name}
    if expected.get("checksum") and found.get("checksum") and expected["checksum"] != found["checksum"]:
        # same chromosome lengths, another file (e.g. re-compressed or soft-masked differently)
        log.info("genome files differ (%s vs %s) but every shared chromosome has the same length",
                 expected.get("genome") or "?", found.get("genome") or "?")
        return {"genome_match": "different-checksum"}
    return {"genome_match": "same"}
