"""A background null for variant effects: shuffled-position SNVs in the same windows.

Each background SNV sits at a uniformly drawn position within half a window of a scored
variant (so in the windows the variants fall in) with a random ALT base; a user's background
VCF can replace them. Each variant's best effect (largest |Δ| over its pairs or genes) is
compared with the background variants' best effects of the same model: an empirical two-sided
p-value ``(1 + #{|null| >= |Δ|}) / (1 + n)`` and a z-score ``(Δ - mean) / sd``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from epitools.variants.vcf import VARIANT_COLUMNS

_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)


def shuffled_snvs(variants: pd.DataFrame, genome, n: int, half_window: int, rng: np.random.Generator
                  ) -> pd.DataFrame:
    """``n`` background SNVs near randomly chosen ``variants`` (within ``half_window`` bp).

    Returns a table of :data:`VARIANT_COLUMNS` (ids ``null_<i>``); positions on N bases or past
    a chromosome end are dropped.
    """
    if n <= 0 or variants.empty:
        return pd.DataFrame(columns=VARIANT_COLUMNS)
    anchor = variants.iloc[rng.integers(0, len(variants), n)]
    start = anchor["start"].to_numpy(np.int64) + rng.integers(-half_window, half_window + 1, n)
    chrom = anchor["chrom"].to_numpy(dtype=object)
    ref = np.full(n, 4, np.uint8)
    for name in pd.unique(chrom):
        rows = np.flatnonzero(chrom == name)
        codes = genome.codes(name)
        ok = (start[rows] >= 0) & (start[rows] < codes.size)
        ref[rows[ok]] = codes[start[rows[ok]]]
    keep = ref < 4
    alt = (ref + rng.integers(1, 4, n)) % 4
    ref_s = _DECODE[ref[keep]].tobytes().decode()
    alt_s = _DECODE[alt[keep]].tobytes().decode()
    k = int(keep.sum())
    return pd.DataFrame({"variant_id": [f"null_{i + 1}" for i in range(k)], "chrom": chrom[keep],
                         "pos": start[keep] + 1, "ref": list(ref_s), "alt": list(alt_s), "kind": "snv",
                         "start": start[keep], "end": start[keep] + 1, "record": 0})


def best_effects(effects: pd.DataFrame, effect: str) -> pd.DataFrame:
    """Per variant, the row with the largest |``effect``|: ``variant target effect n_targets``."""
    if effects.empty:
        return pd.DataFrame(columns=["variant", "row", "effect", "n_targets"])
    magnitude = effects[effect].abs().to_numpy()
    order = np.lexsort((-magnitude, effects["variant"].to_numpy()))
    ranked = effects.iloc[order]
    first = ~ranked["variant"].duplicated().to_numpy()
    best = pd.DataFrame({"variant": ranked["variant"].to_numpy()[first], "row": ranked.index.to_numpy()[first],
                         "effect": ranked[effect].to_numpy()[first]})
    best["n_targets"] = effects.groupby("variant").size().loc[best["variant"]].to_numpy()
    return best


def calibrate(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empirical two-sided p-values and z-scores of ``observed`` (n,) against ``null`` (m,).

    Returns NaN arrays when the null has fewer than 2 values.
    """
    observed = np.asarray(observed, np.float64)
    null = np.asarray(null, np.float64)
    null = null[np.isfinite(null)]
    if null.size < 2:
        nan = np.full(observed.shape, np.nan)
        return nan, nan
    sorted_abs = np.sort(np.abs(null))
    at_least = null.size - np.searchsorted(sorted_abs, np.abs(observed), side="left")
    p = (1.0 + at_least) / (1.0 + null.size)
    sd = null.std(ddof=1)
    z = (observed - null.mean()) / sd if sd > 0 else np.full(observed.shape, np.nan)
    return p, z
