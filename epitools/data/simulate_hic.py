"""Simulated Hi-C: power-law contact decay with enriched interacting loci, as .cool/.mcool."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

# cooler stamps files with the wall clock; a fixed stamp keeps same-seed output byte-identical.
FIXED_CREATION_DATE = "2000-01-01T00:00:00.000000"


def expected_contact(distance, resolution: int, alpha: float) -> np.ndarray:
    """Power-law contact ``(max(d, res) / res) ** -alpha`` (1 at and below one bin)."""
    d = np.maximum(np.asarray(distance, dtype=float), resolution) / resolution
    return d ** (-alpha)


def simulate_pixels(chrom_sizes: dict, resolution: int, depth: float, alpha: float,
                    max_distance: int, enriched: dict, enrichment: float,
                    rng: np.random.Generator):
    """Bins and upper-triangle pixels of an intra-chromosomal contact map.

    Parameters
    ----------
    chrom_sizes : dict
        Chromosome -> length, in output order.
    resolution : int
        Bin size in bp.
    depth : float
        Expected count on the diagonal.
    alpha : float
        Power-law exponent of the decay with distance (in bins).
    max_distance : int
        Pixels further apart than this (bp) are not simulated.
    enriched : dict
        Chromosome -> ``(n, 2)`` int array of bin pairs (within that chromosome)
        whose expected count is multiplied by ``1 + enrichment``.
    rng : numpy.random.Generator

    Returns
    -------
    bins : DataFrame (chrom, start, end)
    pixels : DataFrame (bin1_id, bin2_id, count), sorted, zero counts dropped.
    """
    bin_frames, pixel_frames = [], []
    offset = 0
    max_sep = max(int(max_distance // resolution), 0)
    for chrom, size in chrom_sizes.items():
        n = -(-int(size) // resolution)
        starts = np.arange(n, dtype=np.int64) * resolution
        bin_frames.append(pd.DataFrame({"chrom": chrom, "start": starts,
                                        "end": np.minimum(starts + resolution, size)}))
        i, j = np.triu_indices(n)
        keep = (j - i) <= max_sep
        i, j = i[keep], j[keep]
        lam = depth * expected_contact((j - i) * resolution, resolution, alpha)
        pairs = enriched.get(chrom)
        if pairs is not None and len(pairs):
            lo = np.minimum(pairs[:, 0], pairs[:, 1]).astype(np.int64)
            hi = np.maximum(pairs[:, 0], pairs[:, 1]).astype(np.int64)
            marked = np.zeros(n * n, dtype=bool)
            marked[lo * n + hi] = True
            lam = np.where(marked[i * n + j], lam * (1.0 + enrichment), lam)
        counts = rng.poisson(lam)
        nz = counts > 0
        pixel_frames.append(pd.DataFrame({"bin1_id": i[nz] + offset, "bin2_id": j[nz] + offset,
                                          "count": counts[nz].astype(np.int32)}))
        offset += n
    bins = pd.concat(bin_frames, ignore_index=True)
    bins["chrom"] = pd.Categorical(bins["chrom"], categories=list(chrom_sizes), ordered=True)
    pixels = pd.concat(pixel_frames, ignore_index=True)
    return bins, pixels


def _copy_group(src: h5py.Group, dst: h5py.Group) -> None:
    for key, value in src.attrs.items():
        dst.attrs[key] = FIXED_CREATION_DATE if key == "creation-date" else value
    for name, obj in src.items():
        if isinstance(obj, h5py.Group):
            _copy_group(obj, dst.create_group(name))
        else:
            src.copy(obj, dst, name)


def _make_reproducible(path) -> None:
    """Rewrite an HDF5 file with fixed creation dates and no stale bytes.

    cooler stamps the wall clock into its attributes; editing the attribute in place
    leaves the old string in freed file space, so the file is copied object by object.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".copy")
    with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        _copy_group(src, dst)
    os.replace(tmp, path)


def ice_weights(bin1, bin2, counts, n_bins: int, ignore_diags: int = 2, tol: float = 1e-5,
                max_iters: int = 1000):
    """Iterative correction (ICE) of a symmetric map given by its upper-triangle pixels.

    In memory and equivalent to ``cooler.balance_cooler`` with ``rescale_marginals``
    (cooler's own out-of-core loop takes minutes on a map this size). Bins without
    contacts get NaN. Returns ``(weights (n_bins,), info dict)``.
    """
    from scipy import sparse

    keep = (bin2 - bin1) >= ignore_diags
    i, j, v = bin1[keep], bin2[keep], counts[keep].astype(float)
    off = i != j
    mat = sparse.coo_matrix((np.concatenate([v, v[off]]), (np.concatenate([i, j[off]]),
                            np.concatenate([j, i[off]]))), shape=(n_bins, n_bins)).tocsr()
    bias = np.ones(n_bins)
    bias[np.asarray(mat.sum(1)).ravel() == 0] = 0
    var, converged = np.inf, False
    for _ in range(max_iters):
        marg = bias * (mat @ bias)
        nz = marg > 0
        marg = marg / marg[nz].mean()
        marg[~nz] = 1
        bias = bias / marg
        var = float(marg[nz].var())
        if var < tol:
            converged = True
            break
    nz = bias > 0
    scale = float((bias * (mat @ bias))[nz].mean())
    weights = np.where(nz, bias / np.sqrt(scale), np.nan)
    info = {"converged": converged, "var": var, "scale": scale, "ignore_diags": ignore_diags,
            "tol": tol, "divisive_weights": False, "cis_only": False, "mad_max": 0,
            "min_nnz": 0, "min_count": 0}
    return weights, info


def _store_weights(group: h5py.Group) -> None:
    pixels = group["pixels"]
    n_bins = group["bins"]["start"].shape[0]
    weights, info = ice_weights(pixels["bin1_id"][:], pixels["bin2_id"][:], pixels["count"][:],
                                n_bins)
    if "weight" in group["bins"]:
        del group["bins"]["weight"]
    ds = group["bins"].create_dataset("weight", data=weights, compression="gzip",
                                      compression_opts=6)
    for key, value in info.items():
        ds.attrs[key] = value


def write_cool(path, bins: pd.DataFrame, pixels: pd.DataFrame, assembly: str,
               balance: bool = True) -> None:
    """Write a single-resolution ``.cool`` (with an ICE ``weight`` column when ``balance``)."""
    import cooler

    cooler.create_cooler(str(path), bins, pixels, ordered=True, assembly=assembly,
                         dtypes={"count": np.int32}, temp_dir=str(path.parent))
    with h5py.File(path, "r+") as f:
        if balance:
            _store_weights(f)
    _make_reproducible(path)


def write_mcool(path, base_cool, resolutions, balance: bool = True) -> None:
    """Coarsen ``base_cool`` into a multi-resolution ``.mcool`` (``/resolutions/<bp>``)."""
    import cooler

    cooler.zoomify_cooler(str(base_cool), str(path), list(resolutions), chunksize=10_000_000)
    with h5py.File(path, "r+") as f:
        if balance:
            for res in resolutions:
                _store_weights(f[f"resolutions/{res}"])
    _make_reproducible(path)



def write_hic_from_cool(path, cool_path) -> Path:
    """Write the contacts of a single-resolution ``.cool`` as a ``.hic`` (v9).

    Its ICE ``weight`` column becomes the divisive ``ICE`` normalisation (``1 / weight``),
    so balanced contacts read from either file agree (to float32, the v9 vector precision).
    """
    from epitools.contacts.hic_write import cool_to_hic

    return cool_to_hic(cool_path, path, assembly="sim")
