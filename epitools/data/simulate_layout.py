"""Where the simulated genes and enhancers lie, and which pairs interact.

Placement of TSSs and candidate enhancers (with overlapping sibling calls), the candidate
pairs within the distance range, planted drivers and the distance-matched negatives of
the pairs table. Each function draws from the generator it is given, so one stage's
draws do not depend on another's.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from epitools.data.simulate_config import (EDGE_MARGIN, GENE_GAP, PAIR_COLUMNS, SIBLING_MIN_LENGTH,
                                           SimulationConfig)

log = logging.getLogger(__name__)


def _spread(rng, n: int, lo: int, hi: int, gap: int) -> np.ndarray:
    """``n`` sorted integer positions in ``[lo, hi)`` at least ``gap`` apart."""
    free = hi - lo - (n - 1) * gap
    return lo + np.sort(rng.integers(0, max(free, 1), n)) + np.arange(n, dtype=np.int64) * gap


def chrom_names(n: int) -> list[str]:
    return [f"chr{i + 1}" for i in range(n)]


# --------------------------------------------------------------------------- layout
def place_genes(cfg: SimulationConfig, chroms: list[str], rng) -> pd.DataFrame:
    per_chrom = np.full(cfg.n_chroms, cfg.n_genes // cfg.n_chroms)
    per_chrom[: cfg.n_genes % cfg.n_chroms] += 1
    frames = []
    for ci, (chrom, n) in enumerate(zip(chroms, per_chrom)):
        tss = _spread(rng, int(n), EDGE_MARGIN, cfg.chrom_size - EDGE_MARGIN, GENE_GAP)
        frames.append(pd.DataFrame({"chrom": chrom, "chrom_index": ci, "tss": tss}))
    genes = pd.concat(frames, ignore_index=True)
    n = len(genes)
    genes["strand"] = np.where(rng.random(n) < 0.5, "+", "-")
    genes["gene"] = [f"gene_{i + 1:04d}" for i in range(n)]
    genes["promoter_id"] = [f"prom_{i + 1:04d}" for i in range(n)]
    genes["start"] = genes["tss"] - cfg.promoter_flank
    genes["end"] = genes["tss"] + cfg.promoter_flank
    genes["family"] = rng.integers(0, len(cfg.promoter_motifs), n)
    return genes


def place_enhancers(cfg: SimulationConfig, chroms: list[str], genes: pd.DataFrame,
                     rng) -> pd.DataFrame:
    lo, hi = cfg.enhancer_length
    n_per_chrom = int(round(cfg.enhancers_per_mb * cfg.chrom_size / 1e6))
    clearance = cfg.promoter_flank + hi // 2 + 100
    frames = []
    for ci, chrom in enumerate(chroms):
        centre = _spread(rng, n_per_chrom, EDGE_MARGIN + hi, cfg.chrom_size - EDGE_MARGIN - hi,
                         hi + 200)
        tss = np.sort(genes.loc[genes["chrom_index"] == ci, "tss"].to_numpy())
        idx = np.clip(np.searchsorted(tss, centre), 1, len(tss)) if len(tss) else None
        if idx is not None:
            nearest = np.minimum(np.abs(centre - tss[idx - 1]),
                                 np.abs(centre - tss[np.minimum(idx, len(tss) - 1)]))
            centre = centre[nearest >= clearance]
        length = rng.integers(lo, hi + 1, len(centre))
        start = centre - length // 2
        frames.append(pd.DataFrame({"chrom": chrom, "chrom_index": ci, "start": start,
                                    "end": start + length, "centre": centre}))
    primary = pd.concat(frames, ignore_index=True)
    primary["family"] = rng.integers(0, len(cfg.enhancer_motifs), len(primary))
    primary["parent"] = -1
    primary["key"] = np.arange(len(primary))

    # Overlapping siblings: the same locus called again, shifted, so that it shares the
    # parent's planted motifs (overlap leakage between split folds is real).
    has_sibling = rng.random(len(primary)) < cfg.overlap_fraction
    parents = primary[has_sibling]
    sib_len = rng.integers(SIBLING_MIN_LENGTH, max(hi, SIBLING_MIN_LENGTH) + 1, len(parents))
    left = np.round(rng.uniform(0.25, 0.75, len(parents)) * sib_len).astype(np.int64)
    sib_start = parents["centre"].to_numpy() - left
    siblings = pd.DataFrame({"chrom": parents["chrom"].to_numpy(),
                             "chrom_index": parents["chrom_index"].to_numpy(),
                             "start": sib_start, "end": sib_start + sib_len,
                             "centre": sib_start + sib_len // 2,
                             "family": parents["family"].to_numpy(),
                             "parent": parents["key"].to_numpy(),
                             "key": len(primary) + np.arange(len(parents))})
    enh = pd.concat([primary, siblings], ignore_index=True)
    # Inactive candidates (family -1) carry no planted motif: no TF binds them, so they
    # never drive a gene and pair only as negatives. Drawn last so that the layout above
    # does not depend on the fraction.
    inactive_primary = rng.random(len(primary)) < cfg.inactive_fraction
    inactive = np.concatenate([inactive_primary, inactive_primary[has_sibling]])
    enh.loc[inactive, "family"] = -1
    enh = enh.sort_values(["chrom_index", "start", "end"], kind="stable").reset_index(drop=True)
    enh["enhancer_id"] = [f"enh_{i + 1:05d}" for i in range(len(enh))]
    key_to_id = dict(zip(enh["key"], enh["enhancer_id"]))
    enh["parent_id"] = [key_to_id.get(k, "") for k in enh["parent"]]
    enh["is_primary"] = enh["parent"] < 0
    return enh.drop(columns=["key", "parent"])


def overlaps_any(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """For each interval of ``a``, whether it overlaps any interval of ``b`` (same chrom)."""
    out = np.zeros(len(a), bool)
    for ci in np.unique(a["chrom_index"]):
        ia = np.flatnonzero(a["chrom_index"].to_numpy() == ci)
        sb = b[b["chrom_index"] == ci].sort_values("start")
        if sb.empty:
            continue
        bs, be = sb["start"].to_numpy(), np.maximum.accumulate(sb["end"].to_numpy())
        a_s, a_e = a["start"].to_numpy()[ia], a["end"].to_numpy()[ia]
        j = np.searchsorted(bs, a_e, side="left") - 1  # last b starting before a ends
        out[ia] = (j >= 0) & (be[np.maximum(j, 0)] > a_s)
    return out


# --------------------------------------------------------------------------- interactions
def candidate_pairs(cfg, genes: pd.DataFrame, enh: pd.DataFrame) -> pd.DataFrame:
    """Every (gene, enhancer) on the same chromosome within ``[min, max]_distance``."""
    frames = []
    for ci in np.unique(genes["chrom_index"]):
        g_idx = np.flatnonzero(genes["chrom_index"].to_numpy() == ci)
        e_idx = np.flatnonzero(enh["chrom_index"].to_numpy() == ci)
        order = np.argsort(enh["centre"].to_numpy()[e_idx], kind="stable")
        e_idx = e_idx[order]
        centres = enh["centre"].to_numpy()[e_idx]
        tss = genes["tss"].to_numpy()[g_idx]
        lo = np.searchsorted(centres, tss - cfg.max_distance, side="left")
        hi = np.searchsorted(centres, tss + cfg.max_distance, side="right")
        counts = hi - lo
        gi = np.repeat(g_idx, counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        ei = e_idx[np.repeat(lo, counts) + within]
        frames.append(pd.DataFrame({"g": gi, "e": ei}))
    pairs = pd.concat(frames, ignore_index=True)
    pairs["distance"] = np.abs(enh["centre"].to_numpy()[pairs["e"]] - genes["tss"].to_numpy()[pairs["g"]])
    # Drivers are kept among each gene's `max_candidates` nearest enhancers, the set a
    # gene-expression model gathers around a TSS.
    pairs = pairs.sort_values(["g", "distance", "e"], kind="stable").reset_index(drop=True)
    first = np.searchsorted(pairs["g"].to_numpy(), pairs["g"].to_numpy(), side="left")
    pairs["rank"] = np.arange(len(pairs)) - first
    pairs = pairs[pairs["distance"] >= cfg.min_distance].reset_index(drop=True)
    pairs["compatible"] = (enh["family"].to_numpy()[pairs["e"]] == genes["family"].to_numpy()[pairs["g"]])
    pairs["primary"] = enh["is_primary"].to_numpy()[pairs["e"]]
    return pairs


def _rank_in_group(group: np.ndarray, rng, weights=None) -> np.ndarray:
    """Random rank of each item within its group (0 = first).

    With ``weights``, taking the first ``k`` of a group samples ``k`` items without
    replacement with probability proportional to weight (exponential keys).
    """
    key = rng.exponential(size=len(group))
    if weights is not None:
        key = key / weights
    order = np.lexsort((key, group))
    ranks = np.empty(len(group), dtype=np.int64)
    sorted_groups = group[order]
    first = np.searchsorted(sorted_groups, sorted_groups, side="left")
    ranks[order] = np.arange(len(group)) - first
    return ranks


def _choose_drivers(cfg, genes, cand, rng) -> np.ndarray:
    """Boolean mask over ``cand``: the primary enhancers driving each gene (cell type 1)."""
    eligible = cand["primary"].to_numpy() & (cand["rank"].to_numpy() < cfg.max_candidates)
    compat = cand["compatible"].to_numpy()
    if cfg.drivers == "compatible":
        return eligible & compat
    n = len(genes)
    has = rng.random(n) < cfg.driver_gene_fraction
    n_drivers = np.where(has, np.minimum(1 + rng.poisson(cfg.extra_drivers_mean, n), cfg.max_drivers), 0)
    n_unclean = rng.binomial(n_drivers, cfg.unclean_fraction)
    n_clean = n_drivers - n_unclean
    g = cand["g"].to_numpy()
    # Closer enhancers are likelier drivers (a weak distance prior, far from "the nearest").
    weight = (cand["distance"].to_numpy() / cfg.hic_resolution) ** -cfg.driver_distance_decay
    rank = _rank_in_group(g * 2 + compat + np.where(eligible, 0, 2 * n), rng, weight)
    return eligible & np.where(compat, rank < n_clean[g], rank < n_unclean[g])


def interactions(cfg, genes, enh, cand, rng) -> pd.DataFrame:
    """Interacting (gene, enhancer) pairs per cell type; siblings follow their parent."""
    driver = _choose_drivers(cfg, genes, cand, rng)
    base = cand[driver][["g", "e"]]
    per_type = [base]
    for _ in cfg.cell_types[1:]:
        keep = rng.random(len(base)) < cfg.shared_interactions
        pool = cand[cand["primary"] & cand["compatible"] & ~driver
                    & (cand["rank"] < cfg.max_candidates)][["g", "e"]]
        extra = pool.iloc[np.sort(rng.permutation(len(pool))[: int((~keep).sum())])]
        per_type.append(pd.concat([base[keep], extra], ignore_index=True))
    id_to_index = {eid: i for i, eid in enumerate(enh["enhancer_id"])}
    sib_of = {}
    for i, pid in zip(np.flatnonzero(~enh["is_primary"].to_numpy()), enh.loc[~enh["is_primary"], "parent_id"]):
        sib_of.setdefault(id_to_index[pid], []).append(i)
    frames = []
    for ct, table in zip(cfg.cell_types, per_type):
        g, e = table["g"].to_numpy(), table["e"].to_numpy()
        sg = [gi for gi, ei in zip(g, e) for _ in sib_of.get(ei, [])]
        se = [si for ei in e for si in sib_of.get(ei, [])]
        frames.append(pd.DataFrame({"cell_type": ct, "g": np.concatenate([g, sg]).astype(np.int64),
                                    "e": np.concatenate([e, se]).astype(np.int64)}))
    inter = pd.concat(frames, ignore_index=True)
    inter["distance"] = np.abs(enh["centre"].to_numpy()[inter["e"]] - genes["tss"].to_numpy()[inter["g"]])
    inter["clean"] = enh["family"].to_numpy()[inter["e"]] == genes["family"].to_numpy()[inter["g"]]
    return inter.sort_values(["cell_type", "g", "e"], kind="stable").reset_index(drop=True)


def _distance_matched_negatives(cfg, positives: pd.DataFrame, pool: pd.DataFrame, rng) -> pd.DataFrame:
    """Sample ``negatives_per_positive`` pool pairs per positive within distance quantile bins."""
    if positives.empty or pool.empty:
        log.warning("no %s to match negatives against", "positives" if positives.empty else "candidates")
        return pool.iloc[:0]
    n_bins = int(np.clip(len(positives) // 5, 1, 10))
    edges = np.quantile(positives["distance"], np.linspace(0, 1, n_bins + 1))[1:-1]
    pos_bin = np.searchsorted(edges, positives["distance"], side="right")
    pool_bin = np.searchsorted(edges, pool["distance"], side="right")
    need = np.bincount(pos_bin, minlength=n_bins) * cfg.negatives_per_positive
    rank = _rank_in_group(pool_bin, rng)
    taken = rank < need[pool_bin]
    # A bin without enough candidates borrows the leftover pairs nearest its median distance.
    deficit = need - np.bincount(pool_bin[taken], minlength=n_bins)
    pos_median = pd.Series(positives["distance"].to_numpy()).groupby(pos_bin).median()
    for b in np.flatnonzero(deficit > 0):
        left = np.flatnonzero(~taken)
        gap = np.abs(pool["distance"].to_numpy()[left] - pos_median.get(b, 0))
        taken[left[np.argsort(gap, kind="stable")[: deficit[b]]]] = True
    chosen = pool[taken]
    short = int(need.sum() - len(chosen))
    if short > 0:
        log.warning("only %d of %d distance-matched negatives available (%d short); "
                    "lower negatives_per_positive or add enhancers", len(chosen), need.sum(), short)
    return chosen


def pairs_table(cfg, genes, enh, cand, inter, rng) -> pd.DataFrame:
    interacting = set(zip(inter["g"], inter["e"]))
    in_any = np.array([(g, e) in interacting for g, e in zip(cand["g"], cand["e"])], dtype=bool)
    pool = cand[~cand["compatible"].to_numpy() & ~in_any]
    frames = []
    for ct in cfg.cell_types:
        pos = inter[inter["cell_type"] == ct][["g", "e", "distance"]]
        neg = _distance_matched_negatives(cfg, pos, pool[["g", "e", "distance"]], rng)
        frames.append(pd.concat([pos.assign(label=1), neg.assign(label=0)], ignore_index=True)
                      .assign(cell_type=ct))
    t = pd.concat(frames, ignore_index=True)
    g, e = t["g"].to_numpy(), t["e"].to_numpy()
    out = pd.DataFrame({
        "enhancer_chrom": enh["chrom"].to_numpy()[e], "enhancer_start": enh["start"].to_numpy()[e],
        "enhancer_end": enh["end"].to_numpy()[e], "promoter_chrom": genes["chrom"].to_numpy()[g],
        "promoter_start": genes["start"].to_numpy()[g], "promoter_end": genes["end"].to_numpy()[g],
        "pair_id": [f"{ct}:{ei}:{gi}" for ct, ei, gi in
                    zip(t["cell_type"], enh["enhancer_id"].to_numpy()[e], genes["gene"].to_numpy()[g])],
        "label": t["label"].to_numpy().astype(np.int64), "cell_type": t["cell_type"].to_numpy(),
        "gene": genes["gene"].to_numpy()[g], "tss": genes["tss"].to_numpy()[g],
        "distance": t["distance"].to_numpy().astype(np.int64),
        "enhancer_id": enh["enhancer_id"].to_numpy()[e], "promoter_id": genes["promoter_id"].to_numpy()[g],
        "_chrom_index": genes["chrom_index"].to_numpy()[g],
    })
    out = out.sort_values(["cell_type", "_chrom_index", "tss", "enhancer_start", "enhancer_end"],
                          kind="stable")
    return out[PAIR_COLUMNS].reset_index(drop=True)
