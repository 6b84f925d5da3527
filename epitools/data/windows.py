"""Fixed-length windows around elements, from genome coordinates or inline sequences."""

from __future__ import annotations

import numpy as np

from epitools.data.encoding import CODE_TABLE, N_CODE


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
