"""Hi-C (or power-law) contact between each pair's TSS bin and element-midpoint bin.

ABC's processing (Fulco 2019; Gschwind 2023): contacts of each chromosome are divided by
its mean row sum (a stand-in for a doubly stochastic matrix), the TSS-bin diagonal is
replaced by its largest neighbour times ``tss_hic_contribution`` %, masked bins fall back
to the power law, and the result is scaled to a reference power law plus a pseudocount.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from epitools.contacts import cooler_contacts as cc
from epitools.contacts.matrix import open_contact_matrix
from epitools.contacts.powerlaw import (DEFAULT_GAMMA, DEFAULT_GAMMA_REFERENCE, DEFAULT_SCALE,
                                        abc_normalise, fit_powerlaw, powerlaw_contact)
from epitools.errors import InputError, UsageError

log = logging.getLogger(__name__)

_COORDS = ("enhancer_chrom", "enhancer_start", "enhancer_end",
           "promoter_chrom", "promoter_start", "promoter_end")


def pair_geometry(pairs: pd.DataFrame) -> pd.DataFrame:
    """TSS, element midpoint and their distance for each pair.

    The TSS is the ``tss`` column where present and not missing, else the promoter
    midpoint. Returns columns ``tss``, ``midpoint`` (float) and ``distance`` (float; inf
    for pairs on different chromosomes).
    """
    missing = [c for c in _COORDS if c not in pairs.columns]
    if missing:
        raise InputError(f"pairs table lacks column(s) {', '.join(missing)}", field=missing[0])
    prom_mid = (pairs["promoter_start"].to_numpy(np.float64)
                + pairs["promoter_end"].to_numpy(np.float64)) / 2
    if "tss" in pairs.columns:
        tss = pd.to_numeric(pairs["tss"], errors="coerce").to_numpy(np.float64)
        tss = np.where(np.isnan(tss), np.floor(prom_mid), tss)
    else:
        tss = np.floor(prom_mid)
    mid = (pairs["enhancer_start"].to_numpy(np.float64)
           + pairs["enhancer_end"].to_numpy(np.float64)) / 2
    cis = pairs["enhancer_chrom"].astype(str).to_numpy() == pairs["promoter_chrom"].astype(str).to_numpy()
    distance = np.where(cis, np.abs(mid - tss), np.inf)
    return pd.DataFrame({"tss": tss, "midpoint": mid, "distance": distance}, index=pairs.index)


def unshared_error(chroms, clr) -> InputError:
    """The error for pairs none of whose chromosomes ``chroms`` the Hi-C file ``clr`` has."""
    shown = ", ".join(sorted(pd.unique(np.asarray(chroms)))[:5])
    return InputError(f"no chromosome shared between the pairs ({shown}) and the Hi-C file "
                      f"({', '.join(clr.chromnames[:5])}): different genome?", path=clr.filename)


def _hic_contacts(pairs, geo, clr, tss_hic_contribution, fit_window, require_shared=True):
    """Row-normalised Hi-C contact per pair (NaN where it must come from the power law)."""
    res = int(clr.binsize)
    n = len(pairs)
    contact = np.full(n, np.nan)
    nan_bin_distance = np.full(n, np.nan)  # bin distance of masked pixels, for interpolation
    cis = np.isfinite(geo["distance"].to_numpy())
    chroms = pairs["promoter_chrom"].astype(str).to_numpy()
    names = cc.resolve_chromosomes(pd.unique(chroms[cis]), clr.chromnames)
    if not names and require_shared:
        raise unshared_error(chroms, clr)
    renamed = {k: v for k, v in names.items() if k != v}
    if renamed:
        log.info("chromosome names matched by alias: %s",
                 ", ".join(f"{k}->{v}" for k, v in sorted(renamed.items())))
    lost = sorted(set(pd.unique(chroms[cis])) - set(names))
    if lost:
        log.warning("%d chromosome(s) not in the Hi-C file (power law used): %s",
                    len(lost), ", ".join(lost[:10]))
    max_diag = fit_window[1] // res if fit_window else 0
    diag_sums = np.zeros(max_diag + 1)
    diag_counts = np.zeros(max_diag + 1, dtype=np.int64)
    tss_all = geo["tss"].to_numpy()
    mid_all = geo["midpoint"].to_numpy()
    for chrom, hic_name in names.items():
        idx = np.flatnonzero(cis & (chroms == chrom))
        nbins = clr.nbins(hic_name)
        tb = np.floor(tss_all[idx] / res).astype(np.int64)
        eb = np.floor(mid_all[idx] / res).astype(np.int64)
        inside = (tb >= 0) & (tb < nbins) & (eb >= 0) & (eb < nbins)
        if not inside.all():
            log.warning("%s: %d pair(s) beyond the Hi-C chromosome end (power law used)",
                        chrom, int((~inside).sum()))
        idx, tb, eb = idx[inside], tb[inside], eb[inside]
        left = np.clip(tb - 1, 0, nbins - 1)
        right = np.clip(tb + 1, 0, nbins - 1)
        q1 = np.concatenate([tb, left, tb])
        q2 = np.concatenate([eb, tb, right])
        got = clr.chrom_contacts(hic_name, q1, q2, max_diag=max_diag)
        sums = got.row_sums
        row_mean = float(sums[sums > 0].mean()) if (sums > 0).any() else 1.0
        norm = row_mean if abs(row_mean - 1) >= 1e-3 else 1.0
        k = idx.size
        val, lval, rval = (got.values[:k] / norm, got.values[k:2 * k] / norm,
                           got.values[2 * k:] / norm)
        lval = np.where(tb > 0, lval, np.nan)
        rval = np.where(tb < nbins - 1, rval, np.nan)
        same = (tb == eb) & (val != 0)
        with np.errstate(all="ignore"):
            neighbour = np.fmax(lval, rval) * tss_hic_contribution / 100.0
        val = np.where(same, neighbour, val)
        # A TSS bin without any cis contact has no Hi-C coverage: leave it to the power law.
        covered = sums[tb] > 0
        val = np.where(covered, val, np.nan)
        nan_bin_distance[idx] = np.where(covered & np.isnan(val), np.abs(tb - eb) * res, np.nan)
        contact[idx] = val
        if max_diag:
            diag_sums += got.diag_sums / norm
            diag_counts += got.diag_counts
    return contact, nan_bin_distance, diag_sums, diag_counts


def pair_contacts(pairs: pd.DataFrame, cool=None, *, resolution: int | None = None,
                  balance: str = "auto", divisive_weights: bool | None = None,
                  gamma: float | None = None, scale: float | None = None,
                  fit: bool = False, gamma_reference: float = DEFAULT_GAMMA_REFERENCE,
                  pseudocount_distance: float = 5000, tss_hic_contribution: float = 100,
                  scale_to_powerlaw: bool = True,
                  fit_window: tuple[int, int] = (5000, 1_000_000),
                  require_shared: bool = True) -> pd.DataFrame:
    """Add ``contact``, ``contact_norm`` and ``powerlaw_contact`` to a pairs table.

    Parameters
    ----------
    pairs : pandas.DataFrame
        Canonical pairs table (``tss`` column optional).
    cool : str or os.PathLike, optional
        ``.hic``, ``.cool`` or ``.mcool`` file; None gives power-law contacts only.
    resolution : int, optional
        Resolution of a multi-resolution file (see
        :func:`~epitools.contacts.matrix.open_contact_matrix`).
    balance : {"auto", "weight", "ICE", "KR", "SCALE", "VC", "VC_SQRT", "none", "NONE"}
        Balancing column (cooler) or normalisation vector (``.hic``).
    divisive_weights : bool, optional
        Divide (True) or multiply (False) the counts by the column; default cooler's rule
        for coolers (see :func:`~epitools.contacts.cooler_contacts.weights_are_divisive`),
        divisive (Juicer's definition) for ``.hic``.
    gamma, scale : float, optional
        Power law of the data; default ABC's K562 fit, or the fit when ``fit``.
    fit : bool
        Fit (gamma, scale) on this Hi-C between ``fit_window`` distances (bp); the window
        must span at least two diagonals at the resolution used.
    gamma_reference, pseudocount_distance, tss_hic_contribution, scale_to_powerlaw
        ABC's contact normalisation parameters.
    require_shared : bool
        Refuse a Hi-C file that has none of the pairs' chromosomes (False: their pairs take
        the power law, as pairs of any chromosome missing from the file do; for callers that
        pass one chromosome at a time).

    Returns
    -------
    pandas.DataFrame
        A copy of ``pairs`` with ``distance`` (when absent), ``contact`` (ABC's
        ``hic_contact``; the power law without Hi-C), ``contact_norm`` (scaled to the
        reference power law plus pseudocount: ABC's ``hic_contact_pl_scaled_adj``) and
        ``powerlaw_contact``. ``out.attrs["contacts"]`` records the choices made.
    """
    _check_parameters(gamma, scale, gamma_reference, pseudocount_distance,
                      tss_hic_contribution, fit_window)
    geo = pair_geometry(pairs)
    out = pairs.copy()
    distance = geo["distance"].to_numpy()
    if "distance" not in out.columns:
        out["distance"] = distance
    info = {"source": "powerlaw", "resolution": None, "balance": None, "divisive_weights": None}
    if cool is None:
        if fit:
            raise UsageError("--fit-powerlaw needs a Hi-C file (--hic)")
        gamma = DEFAULT_GAMMA if gamma is None else gamma
        scale = DEFAULT_SCALE if scale is None else scale
        pl = powerlaw_contact(distance, gamma, scale)
        out["contact"] = pl
        out["contact_norm"] = pl
        out["powerlaw_contact"] = pl
        info.update(gamma=gamma, scale=scale)
        log.info("no Hi-C given: power-law contacts (gamma %.4g, scale %.4g) for %d pairs",
                 gamma, scale, len(out))
        out.attrs["contacts"] = info
        return out

    clr = open_contact_matrix(cool, resolution, balance, divisive_weights)
    res = clr.binsize
    bal, divisive = clr.balance, clr.divisive
    if bal is None and divisive_weights is not None:
        log.warning("--divisive-weights/--multiplicative-weights ignored: raw counts are used")
    if fit:
        _check_fit_window(fit_window, res, cool)
    log.info("Hi-C %s at %d bp, balance: %s", cool, res,
             f"{bal} ({'divisive' if divisive else 'multiplicative'})" if bal else "none (raw counts)")
    contact, nan_dist, diag_sums, diag_counts = _hic_contacts(
        out, geo, clr, tss_hic_contribution, fit_window if fit else None, require_shared)
    if fit:
        gamma, scale = _fit_on_diagonals(diag_sums, diag_counts, res, fit_window, cool)
    gamma = DEFAULT_GAMMA if gamma is None else gamma
    scale = DEFAULT_SCALE if scale is None else scale
    finite = np.isfinite(distance)
    masked = np.isfinite(nan_dist)
    contact[masked] = powerlaw_contact(nan_dist[masked], gamma, scale, min_distance=res)
    fallback = np.isnan(contact) & finite
    contact[fallback] = powerlaw_contact(distance[fallback], gamma, scale, min_distance=res)
    contact[~finite] = 0.0
    if fallback.any():
        log.info("%d pair(s) without Hi-C coverage use the power law", int(fallback.sum()))
    safe = np.where(finite, distance, 0.0)
    norm = abc_normalise(contact, safe, gamma, scale, gamma_reference, pseudocount_distance,
                         res, scale_to_powerlaw)
    out["contact"] = contact
    out["contact_norm"] = np.where(finite, norm["hic_contact_pl_scaled_adj"], 0.0)
    out["powerlaw_contact"] = np.where(finite, norm["powerlaw_contact"], 0.0)
    info.update(source=str(cool), format=clr.format, resolution=res, balance=bal or "none",
                divisive_weights=divisive,
                gamma=gamma, scale=scale, powerlaw_fitted=bool(fit),
                powerlaw_fallback=int(fallback.sum()))
    out.attrs["contacts"] = info
    return out


def _check_parameters(gamma, scale, gamma_reference, pseudocount_distance,
                      tss_hic_contribution, fit_window) -> None:
    """UsageError naming the option of the first parameter out of its range."""
    checks = [("--gamma", gamma, gamma is None or (np.isfinite(gamma) and gamma > 0), "> 0"),
              ("--scale", scale, scale is None or np.isfinite(scale), "a finite number"),
              ("--gamma-reference", gamma_reference,
               np.isfinite(gamma_reference) and gamma_reference > 0, "> 0"),
              ("--pseudocount-distance", pseudocount_distance,
               np.isfinite(pseudocount_distance) and pseudocount_distance >= 0, ">= 0"),
              ("--tss-hic-contribution", tss_hic_contribution,
               np.isfinite(tss_hic_contribution) and tss_hic_contribution >= 0, ">= 0 (%)"),
              ("--fit-window", fit_window,
               len(fit_window) == 2 and 0 <= fit_window[0] < fit_window[1], "MIN < MAX, both >= 0")]
    for option, value, ok, expected in checks:
        if not ok:
            raise UsageError(f"{option} must be {expected}, got {value}")


def _fit_advice(problem: str, res: int, fit_window, cool) -> str:
    """A message naming the resolution and the fit window, and what to do instead."""
    lo, hi = fit_window
    return (f"cannot fit a power law on {cool} at {res} bp resolution: {problem} within the "
            f"fit window {lo}-{hi} bp (--fit-window); give --gamma/--scale instead of "
            f"--fit-powerlaw, use a finer --resolution, or widen --fit-window")


def _check_fit_window(fit_window, res: int, cool) -> None:
    """UsageError when the fit window cannot hold two diagonals at this resolution."""
    lo = max(1, fit_window[0] // res)
    if fit_window[1] // res - lo + 1 < 2:
        raise UsageError(_fit_advice("fewer than two diagonals", res, fit_window, cool))


def _fit_on_diagonals(diag_sums, diag_counts, res: int, fit_window, cool) -> tuple[float, float]:
    """(gamma, scale) from per-diagonal sums ``0..max_diag``, shape (max_diag + 1,)."""
    lo = max(1, fit_window[0] // res)
    d = np.arange(diag_sums.size)
    use = (d >= lo) & (diag_counts > 0) & (diag_sums > 0)
    if use.sum() < 2:
        raise InputError(_fit_advice(f"only {int(use.sum())} diagonal(s) with contacts", res,
                                     fit_window, cool))
    n_bins = diag_counts[1] if diag_counts.size > 1 and diag_counts[1] > 0 else diag_counts.max()
    gamma, scale = fit_powerlaw(d[use] * res, diag_sums[use], n_bins)
    if not gamma > 0:
        raise InputError(f"the power law fitted between {fit_window[0]} and {fit_window[1]} bp "
                         f"does not decay (gamma {gamma:.4g}); give --gamma/--scale", path=cool)
    log.info("power law fitted on the Hi-C: gamma %.4f, scale %.4f", gamma, scale)
    return gamma, scale
