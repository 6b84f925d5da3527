"""Augmentation plans: which source row each output row comes from, and how it is changed.

Positives can be copied with random window shifts (EPIPAM: 10 copies,
shift in [-100, 100]; EPIANN: 20 copies), and every row can be followed by its
reverse complement. A plan is computed per chunk from one seeded generator that
is consumed in row order (one draw per copy), so the output does not depend on the chunk size.

A shifted copy is never the unshifted original again: its (enhancer, promoter) shift pair is
drawn uniformly from the (2·max_shift + 1)² − 1 pairs other than (0, 0). Readers tell
originals from copies by their shifts and reverse-complement flag (``epi-train`` evaluates the
original rows only), so a (0, 0) copy would be a duplicate test row.
"""

from __future__ import annotations

import numpy as np

from epitools.errors import UsageError


def augmentation_plan(labels, copies: int = 0, max_shift: int = 100,
                      reverse_complement: bool = False, rng: np.random.Generator | None = None):
    """Expand ``n`` source rows into output rows.

    Parameters
    ----------
    labels : array-like, shape (n,)
        1 marks a positive; only positives are copied.
    copies : int
        Extra shifted copies per positive (the unshifted original is kept).
    max_shift : int
        Shifts lie in [-max_shift, max_shift]; the pair of them (enhancer, promoter) is
        uniform over every pair but (0, 0). Must be >= 1 when ``copies > 0``.
    reverse_complement : bool
        Follow every row with its reverse complement.
    rng : numpy.random.Generator
        Source of the shifts (needed when ``copies > 0``).

    Returns
    -------
    dict of numpy.ndarray, each shape (m,)
        ``source`` (int64 index into the n rows), ``enhancer_shift`` and
        ``promoter_shift`` (int32), ``reverse_complement`` (bool).
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    if copies < 0 or max_shift < 0:
        raise UsageError("--augment-copies and --max-shift must be >= 0")
    if copies and max_shift == 0:
        raise UsageError(f"--augment-copies {copies} with --max-shift 0 would only repeat each positive "
                         "unchanged; give a --max-shift of at least 1")
    is_pos = (labels == 1) if copies else np.zeros(n, dtype=bool)
    reps = 1 + copies * is_pos.astype(np.int64)
    source = np.repeat(np.arange(n, dtype=np.int64), reps)
    first = np.repeat(np.cumsum(reps) - reps, reps)
    copy_idx = np.arange(source.size) - first  # 0 = original
    enh_shift = np.zeros(source.size, dtype=np.int32)
    pro_shift = np.zeros(source.size, dtype=np.int32)
    n_pos = int(is_pos.sum())
    if n_pos:
        if rng is None:
            raise UsageError("a random generator is needed for shifted copies")
        side = 2 * max_shift + 1
        # One index per copy over the side² shift pairs, the centre (0, 0) left out.
        drawn = rng.integers(0, side * side - 1, size=(n_pos, copies), dtype=np.int64)
        centre = max_shift * side + max_shift
        drawn += drawn >= centre
        pos_rank = np.cumsum(is_pos) - 1
        sel = copy_idx > 0
        picked = drawn[pos_rank[source[sel]], copy_idx[sel] - 1]
        enh_shift[sel] = picked // side - max_shift
        pro_shift[sel] = picked % side - max_shift
    rc = np.zeros(source.size, dtype=bool)
    if reverse_complement:
        source, enh_shift, pro_shift = (np.repeat(a, 2) for a in (source, enh_shift, pro_shift))
        rc = np.tile([False, True], source.size // 2)
    return {"source": source, "enhancer_shift": enh_shift, "promoter_shift": pro_shift,
            "reverse_complement": rc}
