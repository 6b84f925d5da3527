"""Promoter-query attention and attention-ABC per candidate enhancer slot.

The numbers behind EPInformer's enhancer prioritisation (Lin et al. 2024), shared by
``epi-prioritize epinformer`` (:mod:`epitools.prioritize.scores`) and ``epi-variants``
(:mod:`epitools.variants.gene_effects`), which sit side by side in one layer and so keep the
math here, below both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def attention_scores(attention, enhancer_mask) -> np.ndarray:
    """Promoter-query attention per slot, mean over layers and heads, summing to 1 per gene.

    Parameters
    ----------
    attention : array, shape (G, layers, heads, M)
        The promoter token's attention weights to each enhancer slot.
    enhancer_mask : array of bool, shape (G, M)

    Returns
    -------
    numpy.ndarray
        float64 (G, M); 0 on empty slots; a gene without candidates is all 0.
    """
    mean = np.asarray(attention, dtype=np.float64).mean(axis=(1, 2)) * np.asarray(enhancer_mask)
    total = mean.sum(axis=1, keepdims=True)
    return np.divide(mean, total, out=np.zeros_like(mean), where=total > 0)


def attention_abc_scores(attention, activity, contact, gene) -> np.ndarray:
    """Attention-ABC (Lin et al. 2024): attention x activity x contact, summing to 1 per gene.

    Parameters
    ----------
    attention, activity, contact : array, shape (n,)
        Per candidate: attention (of EPInformer-PE-Activity in the paper), ABC activity
        (sqrt(DNase x H3K27ac)) and the Hi-C contact.
    gene : array, shape (n,)
        Gene of each candidate.

    Returns
    -------
    numpy.ndarray
        float64 (n,); a gene whose products are all 0 scores 0.
    """
    product = (np.asarray(attention, np.float64) * np.asarray(activity, np.float64)
               * np.asarray(contact, np.float64))
    total = pd.Series(product).groupby(pd.factorize(np.asarray(gene))[0]).transform("sum").to_numpy()
    return np.divide(product, total, out=np.zeros_like(product), where=total > 0)
