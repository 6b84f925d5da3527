"""Augmentation plans: which source row each output row comes from, and how it is changed.

Positives can be copied with random window shifts (EPIPAM: 10 copies,
shift in [-100, 100]; EPIANN: 20 copies), and every row can be followed by its
reverse complement. A plan is computed per chunk from one seeded generator that
is consumed in row order, so the output does not depend on the chunk size.
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
        Shifts are drawn uniformly from [-max_shift, max_shift], independently
        for the enhancer and the promoter window.
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
        drawn = rng.integers(-max_shift, max_shift + 1, size=(n_pos, copies, 2), dtype=np.int64)
        pos_rank = np.cumsum(is_pos) - 1
        sel = copy_idx > 0
        picked = drawn[pos_rank[source[sel]], copy_idx[sel] - 1]
        enh_shift[sel] = picked[:, 0]
        pro_shift[sel] = picked[:, 1]
    rc = np.zeros(source.size, dtype=bool)
    if reverse_complement:
        source, enh_shift, pro_shift = (np.repeat(a, 2) for a in (source, enh_shift, pro_shift))
        rc = np.tile([False, True], source.size // 2)
    return {"source": source, "enhancer_shift": enh_shift, "promoter_shift": pro_shift,
            "reverse_complement": rc}
