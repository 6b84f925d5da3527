"""Fixed-length windows around elements, from genome coordinates or inline sequences.

This module is the one place where window geometry is decided and windows are cut and
encoded: pair stores, gene stores and on-the-fly prediction all go through
:func:`resolve_geometry`, :func:`pair_windows` and :func:`centred_windows`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from epitools.data.encoding import CODE_TABLE, N_CODE, kmer_ids
from epitools.data.encoding import reverse_complement as revcomp
from epitools.errors import GenomeError, InputError, UsageError

ENCODINGS = ("onehot", "kmer")
# Paper windows. Pairs: TargetFinder's 3 kb enhancer and 2 kb promoter windows (EPIPAM,
# EPIANN, EPIPDLF). Genes: EPInformer's 2 kb promoter and 2 kb enhancer slots.
PAIR_WINDOWS = (3000, 2000)
GENE_WINDOWS = (2000, 2000)
# EPInformer's encoder pre-training windows (Lin et al. 2024: 256 bp around each enhancer).
ACTIVITY_WINDOWS = (256, 256)
DEFAULT_WINDOWS = {"pairs": PAIR_WINDOWS, "genes": GENE_WINDOWS, "activity": ACTIVITY_WINDOWS}
DEFAULT_K = 6


@dataclass(frozen=True)
class Geometry:
    """Window lengths and encoding of a store or a model's input.

    Attributes
    ----------
    enhancer_length, promoter_length : int
        Window lengths (bp).
    encoding : {"onehot", "kmer"}
        Base codes (expanded to one-hot when read) or k-mer ids.
    k : int
        k-mer length; 0 for one-hot.
    """

    enhancer_length: int
    promoter_length: int
    encoding: str = "onehot"
    k: int = 0

    def attrs(self) -> dict:
        """The store attributes that record this geometry."""
        return {"encoding": self.encoding, "k": int(self.k), "enhancer_length": int(self.enhancer_length),
                "promoter_length": int(self.promoter_length)}

    @classmethod
    def from_attrs(cls, attrs: dict) -> "Geometry":
        """The geometry a store's (or checkpoint hparams') attributes record."""
        encoding = attrs.get("encoding") or "onehot"
        return cls(int(attrs["enhancer_length"]), int(attrs["promoter_length"]), encoding,
                   int(attrs.get("k") or 0) if encoding == "kmer" else 0)

    def model_kwargs(self) -> dict:
        """The constructor arguments a model reading this geometry gets (lengths, and k for k-mers)."""
        kwargs = {"enhancer_length": int(self.enhancer_length), "promoter_length": int(self.promoter_length)}
        if self.encoding == "kmer":
            kwargs["k"] = int(self.k)
        return kwargs

    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Base codes (n, L) as stored for this encoding: codes, or k-mer ids (n, L-k+1)."""
        return kmer_ids(codes, self.k) if self.encoding == "kmer" else codes


def resolve_geometry(kind: str = "pairs", enhancer_length: int | None = None,
                     promoter_length: int | None = None, encoding: str | None = None,
                     k: int | None = None) -> Geometry:
    """Fill unset window options with the defaults of ``kind`` and check them.

    Every command and library entry point that builds windows resolves its options here,
    so the defaults exist once.

    Parameters
    ----------
    kind : {"pairs", "genes"}
        Pair stores default to 3000/2000 bp, gene stores to 2000/2000 bp.
    enhancer_length, promoter_length : int, optional
    encoding : {"onehot", "kmer"}, optional
        Default one-hot; gene stores are one-hot only.
    k : int, optional
        k-mer length with ``encoding="kmer"`` (default 6).

    Raises
    ------
    UsageError
        A value out of range, naming the option.
    """
    if kind not in DEFAULT_WINDOWS:
        raise UsageError(f"unknown store kind {kind!r}; one of {', '.join(DEFAULT_WINDOWS)}")
    enh_default, pro_default = DEFAULT_WINDOWS[kind]
    enhancer_length = enh_default if enhancer_length is None else int(enhancer_length)
    promoter_length = pro_default if promoter_length is None else int(promoter_length)
    encoding = encoding or "onehot"
    if encoding not in ENCODINGS:
        raise UsageError(f"--encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if kind in ("genes", "activity") and encoding != "onehot":
        raise UsageError(f"{kind} stores hold base codes only (--encoding onehot)")
    if encoding == "kmer":
        k = DEFAULT_K if k is None else int(k)
        if not 1 <= k <= 7:
            raise UsageError(f"--k must be between 1 and 7, got {k}")
    else:
        k = 0
    for option, value in (("--enhancer-length", enhancer_length), ("--promoter-length", promoter_length)):
        if value < max(k, 1):
            raise UsageError(f"{option} must be at least {max(k, 1)} bp"
                             + (" (>= k for k-mer encoding)" if k else "") + f", got {value}")
    return Geometry(enhancer_length, promoter_length, encoding, k)


def centered_starts(starts, ends, length: int, shifts=None) -> np.ndarray:
    """Start of a window of ``length`` centred on each element's midpoint.

    Parameters
    ----------
    starts, ends : array-like of int, shape (n,)
        Element coordinates (0-based, half-open).
    length : int
        Window length.
    shifts : array-like of int, shape (n,), optional
        Added to each window start (augmentation).

    Returns
    -------
    numpy.ndarray
        int64, shape (n,); may be negative near a chromosome start.
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    win = (starts + ends) // 2 - length // 2
    if shifts is not None:
        win = win + np.asarray(shifts, dtype=np.int64)
    return win


def element_in_window(elem_starts, elem_ends, win_starts, length: int) -> np.ndarray:
    """Element start/end relative to its window, clipped to [0, length], shape (n, 2) int32."""
    rel = np.stack([np.asarray(elem_starts, np.int64) - win_starts,
                    np.asarray(elem_ends, np.int64) - win_starts], axis=1)
    return np.clip(rel, 0, length).astype(np.int32)


def flip_elements(elements: np.ndarray, length: int) -> np.ndarray:
    """Element positions after reverse-complementing the window, shape (n, 2) -> (n, 2)."""
    return np.stack([length - elements[:, 1], length - elements[:, 0]], axis=1).astype(np.int32)


def inline_windows(seqs, length: int, shifts=None):
    """Centre-crop or N-pad inline sequences to ``length``.

    Parameters
    ----------
    seqs : sequence of str, shape (n,)
        DNA strings of any lengths.
    length : int
        Window length.
    shifts : array-like of int, shape (n,), optional
        Moves each window along its sequence (N past the sequence ends).

    Returns
    -------
    codes : numpy.ndarray
        uint8 base codes, shape (n, length).
    elements : numpy.ndarray
        int32, shape (n, 2): where the sequence lies inside its window.
    n_padded : int
        Windows that needed N padding.
    """
    seqs = ["" if s is None or (isinstance(s, float) and s != s) else str(s) for s in seqs]
    n = len(seqs)
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=n)
    # one lookup over all sequences joined, then a slice copy per row
    codes_all = CODE_TABLE[np.frombuffer("".join(seqs).encode("ascii", errors="replace"),
                                         dtype=np.uint8)]
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]) if n else np.zeros(0, np.int64)
    starts = (lens - length) // 2  # window start relative to the sequence
    if shifts is not None:
        starts = starts + np.asarray(shifts, dtype=np.int64)
    out = np.full((n, length), N_CODE, dtype=np.uint8)
    lo = np.maximum(starts, 0)
    hi = np.minimum(starts + length, lens)
    for i in range(n):
        if hi[i] > lo[i]:
            out[i, lo[i] - starts[i]:hi[i] - starts[i]] = codes_all[offsets[i] + lo[i]:offsets[i] + hi[i]]
    padded = (starts < 0) | (starts + length > lens)
    elements = element_in_window(np.zeros(n, np.int64), lens, starts, length)
    return out, elements, int(padded.sum())


def _window_codes(genome, chroms: np.ndarray, win: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Base codes (n, length) of genome windows, each distinct window fetched once,
    and which windows reach past a chromosome end (n,) bool."""
    chrom_idx, uniq_chroms = pd.factorize(chroms)
    sizes = np.asarray([genome.chrom_sizes[genome.resolve(c)] for c in uniq_chroms], dtype=np.int64)
    padded = (win < 0) | (win + length > sizes[chrom_idx])
    # candidate tables repeat promoters and enhancers: one fetch per distinct window
    key = (chrom_idx.astype(np.int64) << 40) | (win + (1 << 39))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    codes = genome.fetch_windows(chroms[first], win[first], length)
    return codes[inverse.ravel()], padded


def centred_windows(genome, chroms, starts, ends, length: int, shifts=None):
    """Genome windows of ``length`` centred on elements.

    Parameters
    ----------
    genome : epitools.io.genome.Genome
    chroms : array-like of str, shape (n,)
    starts, ends : array-like of int, shape (n,)
        Elements (0-based, half-open); a TSS is ``start == end``.
    length : int
    shifts : array-like of int, shape (n,), optional
        Augmentation shifts of the window starts.

    Returns
    -------
    codes : numpy.ndarray
        uint8 base codes, shape (n, length); N past a chromosome end.
    elements : numpy.ndarray
        int32, shape (n, 2): each element's start/end inside its window.
    padded : numpy.ndarray
        bool, shape (n,): windows that reach past a chromosome end.
    """
    chroms = np.asarray(chroms, dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    win = centered_starts(starts, ends, length, shifts)
    if len(win) == 0:
        return (np.empty((0, length), np.uint8), np.empty((0, 2), np.int32), np.zeros(0, bool))
    codes, padded = _window_codes(genome, chroms, win, length)
    return codes, element_in_window(starts, ends, win, length), padded


def element_windows(genome, chroms, starts, ends, length: int):
    """Each element's own sequence, centred in a slot of ``length`` and N-padded.

    EPInformer's enhancer slots (Lin et al. 2024): the bases outside the element are N, not
    the surrounding genome; an element longer than ``length`` keeps its central ``length`` bp.

    Parameters
    ----------
    genome : epitools.io.genome.Genome
    chroms : array-like of str, shape (n,)
    starts, ends : array-like of int, shape (n,)
    length : int

    Returns
    -------
    codes : numpy.ndarray
        uint8 base codes, shape (n, length); N outside the element and past a chromosome end.
    elements : numpy.ndarray
        int32, shape (n, 2): each element's start/end inside its slot.
    """
    codes, elements, _ = centred_windows(genome, chroms, starts, ends, length)
    position = np.arange(length)
    outside = (position < elements[:, :1]) | (position >= elements[:, 1:])
    codes[outside] = 4
    return codes, elements


def has_inline_sequences(columns) -> bool:
    """True when a pairs table carries ``enhancer_seq`` and ``promoter_seq`` columns."""
    return {"enhancer_seq", "promoter_seq"} <= set(columns)


def check_elements(genome, chunk: pd.DataFrame, source=None, first_row: int = 0) -> None:
    """Check that every element of ``chunk`` lies on a chromosome of the genome.

    A chromosome the genome does not have (under any alias), or an element with no base
    inside its chromosome (a coordinate of another build), raises ``InputError`` naming the
    table, the record and the field. Windows that only overhang a chromosome end are fine:
    they are N-padded and counted.
    """
    for side in ("enhancer", "promoter"):
        field = f"{side}_chrom"
        chroms = chunk[field].to_numpy(dtype=object)
        starts = chunk[f"{side}_start"].to_numpy(np.int64)
        ends = chunk[f"{side}_end"].to_numpy(np.int64)
        for chrom in pd.unique(chroms):
            rows = np.flatnonzero(chroms == chrom)
            try:
                size = genome.chrom_sizes[genome.resolve(chrom)]
            except GenomeError as exc:
                where, line = _record(chunk, rows[0], first_row)
                raise InputError(where + f"{exc.message} [{genome.path}]", path=source, line=line,
                                 field=field) from exc
            # a TSS (start == end) is a position; an element needs one base inside [0, size)
            outside = (np.maximum(ends[rows], starts[rows] + 1) <= 0) | (starts[rows] >= size)
            if outside.any():
                i = rows[np.flatnonzero(outside)[0]]
                where, line = _record(chunk, i, first_row)
                raise InputError(where + f"{side} {chrom}:{starts[i]}-{ends[i]} lies outside {chrom} "
                                 f"({size:,} bp in {genome.path}); wrong genome build?",
                                 path=source, line=line, field=f"{side}_start")


def _record(chunk: pd.DataFrame, i: int, first_row: int) -> tuple[str, int | None]:
    """Where row ``i`` of a chunk came from: its file line when the reader recorded it
    (``chunk.attrs["source_lines"]``), else its record number; plus the pair id."""
    pair_id = chunk["pair_id"].iloc[i] if "pair_id" in chunk.columns else None
    named = f"pair_id {pair_id}: " if pair_id is not None else ""
    lines = chunk.attrs.get("source_lines")
    if lines is not None and len(lines) == len(chunk):
        return named, int(lines[i])
    return f"record {first_row + i + 1}" + (f" ({named[:-2]})" if named else "") + ": ", None


def pair_windows(chunk: pd.DataFrame, geometry: Geometry, genome=None, *, rows=None,
                 enhancer_shift=None, promoter_shift=None, reverse_complement=None) -> dict:
    """Cut and encode the enhancer and promoter windows of a chunk of pairs.

    Windows are centred on each element; inline ``enhancer_seq``/``promoter_seq`` columns
    are centre-cropped or N-padded instead of reading the genome.

    Parameters
    ----------
    chunk : pandas.DataFrame
        Canonical pair columns (or inline sequence columns), n rows.
    geometry : Geometry
    genome : epitools.io.genome.Genome, optional
        Needed unless the chunk has inline sequences.
    rows : array-like of int, shape (m,), optional
        Chunk rows to encode, repeats allowed (an augmentation plan); default all n.
    enhancer_shift, promoter_shift : array-like of int, shape (m,), optional
        Window shifts per output row.
    reverse_complement : array-like of bool, shape (m,), optional
        Output rows to reverse-complement (element positions are flipped with them).

    Returns
    -------
    dict
        ``enhancer`` (m, Le) / ``promoter`` (m, Lp) base codes, or k-mer ids
        (m, L-k+1); ``enhancer_element``/``promoter_element`` (m, 2) int32;
        ``padded_windows`` int, windows N-padded.
    """
    rows = np.arange(len(chunk)) if rows is None else np.asarray(rows, dtype=np.int64)
    rc = None if reverse_complement is None else np.asarray(reverse_complement, dtype=bool)
    inline = has_inline_sequences(chunk.columns)
    if not inline and genome is None:
        raise UsageError("pairs without enhancer_seq/promoter_seq columns need --genome")
    out = {"padded_windows": 0}
    for side, length, shifts in (("enhancer", geometry.enhancer_length, enhancer_shift),
                                 ("promoter", geometry.promoter_length, promoter_shift)):
        if inline:
            codes, elements, n_pad = inline_windows(chunk[f"{side}_seq"].to_numpy(dtype=object)[rows],
                                                    length, shifts)
        else:
            codes, elements, padded = centred_windows(
                genome, chunk[f"{side}_chrom"].to_numpy(dtype=object)[rows],
                chunk[f"{side}_start"].to_numpy(dtype=np.int64)[rows],
                chunk[f"{side}_end"].to_numpy(dtype=np.int64)[rows], length, shifts)
            n_pad = int(padded.sum())
        if rc is not None and rc.any():
            codes[rc] = revcomp(codes[rc])
            elements[rc] = flip_elements(elements[rc], length)
        out[side] = geometry.encode(codes)
        out[f"{side}_element"] = elements
        out["padded_windows"] += n_pad
    return out
