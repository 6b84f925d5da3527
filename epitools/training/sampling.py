"""All positives plus N negatives per positive: the one resampler of pair labels.

Training epochs draw it afresh each epoch (``--negatives-per-positive``) from the loader's
``torch.Generator``, which ``last.pt`` saves so a resumed run replays the same draws; test
metrics draw it once at the 1:1 and 1:10 ratios of the EPI literature from a seeded numpy
``Generator``. Positives are rows labelled 1, negatives rows labelled 0; unknown labels
(< 0) are never drawn.
"""

from __future__ import annotations

import numpy as np
import torch


def sampled_negative_count(labels, negatives_per_positive: int) -> int:
    """How many negatives :func:`positives_and_negatives` draws: N per positive, at most all."""
    labels = np.asarray(labels).ravel()
    return int(min((labels == 0).sum(), negatives_per_positive * (labels == 1).sum()))


def positives_and_negatives(labels, negatives_per_positive: int,
                            generator: torch.Generator | np.random.Generator) -> np.ndarray:
    """Indices of every positive and of ``negatives_per_positive`` random negatives per positive.

    Parameters
    ----------
    labels : array-like, shape (n,)
        1 positive, 0 negative, < 0 unknown.
    negatives_per_positive : int
        N; when fewer than N × positives negatives exist, all of them are kept.
    generator : torch.Generator or numpy.random.Generator
        Source of the draw. A torch generator takes the first negatives of one
        ``torch.randperm`` over all negatives (one permutation per call, so it advances
        the same whatever the counts); a numpy generator uses ``Generator.choice`` without
        replacement, and is not touched when every negative is kept.

    Returns
    -------
    np.ndarray, shape (n_pos + n_neg,), int64
        Positives in ascending order, then the drawn negatives in draw order.
    """
    labels = np.asarray(labels).ravel()
    positive = np.flatnonzero(labels == 1)
    negative = np.flatnonzero(labels == 0)
    n_negatives = min(negative.size, negatives_per_positive * positive.size)
    if isinstance(generator, torch.Generator):
        draw = torch.randperm(negative.size, generator=generator).numpy()[:n_negatives]
        chosen = negative[draw]
    elif n_negatives < negative.size:
        chosen = generator.choice(negative, size=n_negatives, replace=False)
    else:
        chosen = negative
    return np.concatenate([positive, chosen]).astype(np.int64, copy=False)
