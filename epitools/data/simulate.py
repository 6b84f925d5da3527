"""Deterministic synthetic genome with planted, known enhancer–promoter biology.

``simulate(out_dir, seed, config)`` writes a directory that every tool of the package can
run on without a human genome:

- ``genome.fa`` (+ ``.fai``), ``chrom.sizes``: i.i.d. background at the configured GC with
  JASPAR motif instances planted at the centres of enhancers and promoters.
- ``enhancers.bed``, ``promoters.bed``, ``elements.bed`` (candidate enhancers with DNase and
  H3K27ac activity), ``motif_sites.tsv`` (every planted and background site).
- ``pairs.tsv``: interacting enhancer–promoter pairs plus distance-matched negatives
  (``negatives_per_positive`` : 1). Every promoter and every active enhancer carries one
  motif *family* of its side; an interacting pair carries a compatible enhancer/promoter
  family combination, negatives an incompatible one or an inactive enhancer (no planted
  motif, low activity: ``inactive_fraction`` of the candidates). Among active elements the
  families are uniform on both sides of both classes, so an element alone only tells
  whether a TF binds it: which pairs interact takes the combination.
- ``genes.tsv``: linear, TPM-like expression (non-negative, typically 1-1000), modelled in
  log space: log TPM = log(scale) + log(promoter activity x sum over driver enhancers of
  activity x contact + baseline) + half-life feature effects + noise.
- ``hic.cool`` / ``hic.mcool``: power-law decay, interacting loci enriched.
- ``dnase``/``h3k27ac`` ``.bedGraph`` and ``.bw``: activity over elements.
- ``truth.json``: motifs (JASPAR IDs, counts), grammar, interactions, each gene's drivers
  with their planted knockout effect (the noise-free drop in log1p(TPM) when the enhancer
  is removed), parameters and seed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from epitools import __version__
from epitools.data import simulate_hic, simulate_motifs, simulate_tracks
from epitools.io.tracks import write_bedgraph, write_bigwig
from epitools.errors import UsageError
from epitools.io.atomic import atomic_path
from epitools.progress import progress

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
N_HALF_LIFE_FEATURES = 8
# Expression weight of each half-life-like gene feature hl_1..hl_8 (only the first three matter).
HALF_LIFE_WEIGHTS = (0.3, -0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0)
PAIR_COLUMNS = ["enhancer_chrom", "enhancer_start", "enhancer_end", "promoter_chrom",
                "promoter_start", "promoter_end", "pair_id", "label", "cell_type", "gene", "tss",
                "distance", "enhancer_id", "promoter_id"]
_EDGE_MARGIN = 2000
_GENE_GAP = 10_000
_SLOT_PAD = 6
_BACKGROUND_SITES_PER_KB = 0.5
# Planted copies of an element's family motif (plus a decoy slot) spread over this many bp
# around its centre: inside the shortest enhancer, and inside any window a model reads.
_MOTIF_CORE = 240
_SIBLING_MIN_LENGTH = 400


@dataclass
class SimulationConfig:
    """Parameters of a simulated data set (defaults: the model acceptance set).

    Difficulty knobs: ``motif_strength`` (PWM sharpening; 1 samples the PWM itself),
    ``motif_copies`` (planted instances per element), ``noise`` (probability of a decoy
    motif of another family in each element, and density of random motif instances
    genome-wide) and ``unclean_fraction`` (interactions whose enhancer carries an
    incompatible family, i.e. positives without a clean motif pair). Negatives are
    distance-matched at 1:20 (TargetFinder's ratio), and every family stays equally frequent on
    both sides of both classes: only the combination across a pair is informative.
    ``inactive_fraction`` of the enhancer candidates have no planted motif (family -1 in
    truth.json) and ``inactive_activity`` times the activity: unbound elements that pair
    only as negatives, as real candidate sets hold many. They give an enhancer-only model
    some signal (AUROC ~0.7) but none about which pairs interact. Drivers' activity is
    ``driver_activity_boost`` times their draw: with 5, ABC ranks the planted drivers at
    AUPRC ~0.5 on held-out genes, near the 0.6-0.7 CRISPRi screens give ABC (with 3 it was
    0.41).
    """

    n_chroms: int = 12
    chrom_size: int = 4_000_000
    n_genes: int = 1440
    enhancers_per_mb: float = 270.0
    enhancer_length: tuple = (300, 1000)
    promoter_flank: int = 500
    overlap_fraction: float = 0.1
    gc: float = 0.41
    motif_strength: float = 3.0
    motif_copies: int = 4
    noise: float = 0.15
    unclean_fraction: float = 0.02
    inactive_fraction: float = 0.3
    driver_gene_fraction: float = 0.75
    extra_drivers_mean: float = 1.0
    max_drivers: int = 4
    driver_distance_decay: float = 0.2
    min_distance: int = 3000
    max_distance: int = 100_000
    max_candidates: int = 60
    negatives_per_positive: int = 20  # TargetFinder ratio
    cell_types: tuple = ("SIM",)
    shared_interactions: float = 0.7
    hic_resolution: int = 5000
    mcool_resolutions: tuple = (5000, 10000, 25000)
    hic_depth: float = 400.0
    hic_alpha: float = 1.0
    hic_enrichment: float = 4.0
    hic_max_distance: int = 2_000_000
    activity_sd: float = 0.5
    driver_activity_boost: float = 5.0
    inactive_activity: float = 0.25
    track_noise: float = 0.25
    expression_baseline: float = 0.05
    expression_scale: float = 30.0
    expression_noise: float = 0.15
    enhancer_motifs: tuple = field(default=simulate_motifs.ENHANCER_MOTIFS)
    promoter_motifs: tuple = field(default=simulate_motifs.PROMOTER_MOTIFS)

    @classmethod
    def default(cls, **overrides) -> "SimulationConfig":
        """Acceptance set: 12 chromosomes of 4 Mb, 1440 genes, ~2,400 positives, ~49k pairs.

        With ~800 positives (480 genes on 2 Mb chromosomes) no model got past the enhancer-only
        signal (AUROC ~0.7) from 500 bp windows; with three times as many, EPIPAM's paper
        architecture learns the pair grammar (held-out chromosomes: AUROC 0.98, 500 bp).
        """
        return cls(**overrides)

    @classmethod
    def small(cls, **overrides) -> "SimulationConfig":
        """Model-training tests: 6 chromosomes of 600 kb, 144 genes, ~250 positives."""
        base = dict(n_chroms=6, chrom_size=600_000, n_genes=144, hic_max_distance=600_000,
                    enhancers_per_mb=340.0)
        return cls(**{**base, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> "SimulationConfig":
        """Unit tests: 4 chromosomes of 250 kb, a few dozen positives; generated in ~1 s."""
        base = dict(n_chroms=4, chrom_size=250_000, n_genes=24, hic_max_distance=250_000)
        return cls(**{**base, **overrides})

    @classmethod
    def medium(cls, **overrides) -> "SimulationConfig":
        """Driver-recovery set: 12 chromosomes of 2 Mb, 480 genes, ~800 positives."""
        return cls(**{"chrom_size": 2_000_000, "n_genes": 480, **overrides})

    @classmethod
    def preset(cls, name: str, **overrides) -> "SimulationConfig":
        presets = {"tiny": cls.tiny, "small": cls.small, "medium": cls.medium, "default": cls.default}
        if name not in presets:
            raise UsageError(f"unknown preset '{name}' (choose from {', '.join(presets)})")
        return presets[name](**overrides)

    def validate(self) -> None:
        """Raise :class:`UsageError` for parameters that cannot produce a data set."""
        problems = []
        if self.n_chroms < 1:
            problems.append("n_chroms must be >= 1")
        if self.n_genes < self.n_chroms:
            problems.append("n_genes must be at least n_chroms (one gene per chromosome)")
        lo, hi = self.enhancer_length
        if not 50 <= lo <= hi:
            problems.append("enhancer_length must be (min, max) with 50 <= min <= max")
        if not 0 < self.gc < 1:
            problems.append("gc must be in (0, 1)")
        if self.motif_strength <= 0:
            problems.append("motif_strength must be > 0")
        if self.expression_scale <= 0:
            problems.append("expression_scale must be > 0")
        if self.inactive_activity <= 0 or self.driver_activity_boost <= 0:
            problems.append("inactive_activity and driver_activity_boost must be > 0")
        if self.motif_copies < 1:
            problems.append("motif_copies must be >= 1")
        for name in ("noise", "unclean_fraction", "inactive_fraction", "overlap_fraction", "driver_gene_fraction",
                     "shared_interactions"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1]")
        if not 0 <= self.min_distance < self.max_distance:
            problems.append("need 0 <= min_distance < max_distance")
        if len(self.enhancer_motifs) != len(self.promoter_motifs) or len(self.enhancer_motifs) < 2:
            problems.append("need the same number (>= 2) of enhancer and promoter motifs")
        if not self.cell_types or len(set(self.cell_types)) != len(self.cell_types):
            problems.append("cell_types must be distinct, non-empty names")
        if any(r % self.hic_resolution for r in self.mcool_resolutions):
            problems.append("mcool_resolutions must be multiples of hic_resolution")
        if self.negatives_per_positive < 1:
            problems.append("negatives_per_positive must be >= 1")
        genes_per_chrom = -(-self.n_genes // self.n_chroms)
        if (genes_per_chrom - 1) * _GENE_GAP > self.chrom_size - 2 * _EDGE_MARGIN:
            problems.append(f"{genes_per_chrom} genes do not fit on a {self.chrom_size} bp "
                            f"chromosome ({_GENE_GAP} bp apart); raise chrom_size or lower n_genes")
        spacing = hi + 200
        n_enh = int(round(self.enhancers_per_mb * self.chrom_size / 1e6))
        if n_enh * spacing > self.chrom_size - 2 * _EDGE_MARGIN:
            problems.append("enhancers_per_mb too high for the enhancer length")
        if problems:
            raise UsageError("invalid simulation parameters: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}


def _stream(seed: int, stage: int) -> np.random.Generator:
    # One independent stream per stage: changing one stage leaves the others' draws intact.
    return np.random.default_rng([int(seed), stage])


def _spread(rng, n: int, lo: int, hi: int, gap: int) -> np.ndarray:
    """``n`` sorted integer positions in ``[lo, hi)`` at least ``gap`` apart."""
    free = hi - lo - (n - 1) * gap
    return lo + np.sort(rng.integers(0, max(free, 1), n)) + np.arange(n, dtype=np.int64) * gap


def _chrom_names(n: int) -> list[str]:
    return [f"chr{i + 1}" for i in range(n)]


# --------------------------------------------------------------------------- layout
def _place_genes(cfg: SimulationConfig, chroms: list[str], rng) -> pd.DataFrame:
    per_chrom = np.full(cfg.n_chroms, cfg.n_genes // cfg.n_chroms)
    per_chrom[: cfg.n_genes % cfg.n_chroms] += 1
    frames = []
    for ci, (chrom, n) in enumerate(zip(chroms, per_chrom)):
        tss = _spread(rng, int(n), _EDGE_MARGIN, cfg.chrom_size - _EDGE_MARGIN, _GENE_GAP)
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


def _place_enhancers(cfg: SimulationConfig, chroms: list[str], genes: pd.DataFrame,
                     rng) -> pd.DataFrame:
    lo, hi = cfg.enhancer_length
    n_per_chrom = int(round(cfg.enhancers_per_mb * cfg.chrom_size / 1e6))
    clearance = cfg.promoter_flank + hi // 2 + 100
    frames = []
    for ci, chrom in enumerate(chroms):
        centre = _spread(rng, n_per_chrom, _EDGE_MARGIN + hi, cfg.chrom_size - _EDGE_MARGIN - hi,
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
    sib_len = rng.integers(_SIBLING_MIN_LENGTH, max(hi, _SIBLING_MIN_LENGTH) + 1, len(parents))
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


# --------------------------------------------------------------------------- sequence
def _background_genome(cfg: SimulationConfig, rng) -> np.ndarray:
    at = (1 - cfg.gc) / 2
    u = rng.random(cfg.n_chroms * cfg.chrom_size, dtype=np.float32)
    # A, C, G, T with probabilities at, gc/2, gc/2, at.
    return ((u >= at).astype(np.uint8) + (u >= 0.5) + (u >= 1 - at)).astype(np.uint8)


def _element_sites(cfg, motifs_per_side: int, family_offset: int, chrom_index, centre,
                   family, element_ids, max_len: int, rng) -> pd.DataFrame:
    """Planted (``motif_copies``) and decoy (probability ``noise``) sites at element centres.

    Each site gets its own slot, the slots tiling the central ``_MOTIF_CORE`` bp (or the
    shortest enhancer, less a margin) so that copies never overlap.
    """
    n = len(centre)
    n_slots = cfg.motif_copies + 1
    core = min(_MOTIF_CORE, cfg.enhancer_length[0] - 2 * _SLOT_PAD)
    width = max(max_len + _SLOT_PAD, core // n_slots)
    core_start = np.asarray(centre) - (n_slots * width) // 2
    slots = np.argsort(rng.random((n, n_slots)), axis=1)
    decoy_family = (family + rng.integers(1, motifs_per_side, n)) % motifs_per_side
    has_decoy = rng.random(n) < cfg.noise
    rows_el = np.concatenate([np.repeat(np.arange(n), cfg.motif_copies), np.flatnonzero(has_decoy)])
    rows_slot = np.concatenate([slots[:, : cfg.motif_copies].ravel(),
                                slots[has_decoy, cfg.motif_copies]])
    rows_fam = np.concatenate([np.repeat(family, cfg.motif_copies), decoy_family[has_decoy]])
    kind = np.array(["planted"] * (n * cfg.motif_copies) + ["decoy"] * int(has_decoy.sum()))
    return pd.DataFrame({"chrom_index": np.asarray(chrom_index)[rows_el],
                         "slot_start": core_start[rows_el] + rows_slot * width,
                         "slot_width": width,
                         "motif": rows_fam + family_offset,
                         "element_id": np.asarray(element_ids)[rows_el], "kind": kind})


def _write_sites(genome: np.ndarray, sites: pd.DataFrame, motifs, cfg, offsets, rng) -> pd.DataFrame:
    """Sample an instance per site, write it into ``genome`` (in place); fills start/strand."""
    sites = sites.copy()
    lengths = np.array([m.length for m in motifs])[sites["motif"].to_numpy()]
    if "start" not in sites:
        jitter = (rng.random(len(sites)) * (sites["slot_width"].to_numpy() - lengths + 1)).astype(np.int64)
        sites["start"] = sites["slot_start"].to_numpy() + jitter
    sites["end"] = sites["start"] + lengths
    sites["strand"] = np.where(rng.random(len(sites)) < 0.5, "+", "-")
    for mi, motif in enumerate(motifs):
        sel = np.flatnonzero(sites["motif"].to_numpy() == mi)
        if not len(sel):
            continue
        codes = simulate_motifs.sample_instances(motif, len(sel), cfg.motif_strength, rng)
        minus = sites["strand"].to_numpy()[sel] == "-"
        codes[minus] = simulate_motifs.reverse_complement_codes(codes[minus])
        base = offsets[sites["chrom_index"].to_numpy()[sel]] + sites["start"].to_numpy()[sel]
        genome[base[:, None] + np.arange(motif.length)[None, :]] = codes
    return sites


def _plant_motifs(cfg, genome, offsets, genes, enh, motifs, rng) -> pd.DataFrame:
    k = len(cfg.enhancer_motifs)
    max_len = max(m.length for m in motifs)
    prim = enh[enh["is_primary"] & (enh["family"] >= 0)]
    planted = pd.concat([
        _element_sites(cfg, k, 0, prim["chrom_index"], prim["centre"], prim["family"].to_numpy(),
                       prim["enhancer_id"], max_len, rng),
        _element_sites(cfg, k, k, genes["chrom_index"], genes["tss"], genes["family"].to_numpy(),
                       genes["promoter_id"], max_len, rng),
    ], ignore_index=True)

    # Random instances of every motif anywhere (also inside element windows): background noise.
    total_kb = cfg.n_chroms * cfg.chrom_size / 1000
    n_bg = rng.poisson(cfg.noise * _BACKGROUND_SITES_PER_KB * total_kb)
    bg_motif = rng.integers(0, len(motifs), n_bg)
    bg_len = np.array([m.length for m in motifs])[bg_motif]
    bg_chrom = rng.integers(0, cfg.n_chroms, n_bg)
    bg_start = (rng.random(n_bg) * (cfg.chrom_size - bg_len)).astype(np.int64)
    background = pd.DataFrame({"chrom_index": bg_chrom, "start": bg_start, "motif": bg_motif,
                               "element_id": ".", "kind": "background"})

    background = _write_sites(genome, background, motifs, cfg, offsets, rng)
    planted = _write_sites(genome, planted, motifs, cfg, offsets, rng)  # written last: intact
    sites = pd.concat([planted, background], ignore_index=True)

    starts = offsets[sites["chrom_index"].to_numpy()] + sites["start"].to_numpy()
    scores, intact = np.zeros(len(sites)), np.ones(len(sites), bool)
    for mi, motif in enumerate(motifs):
        sel = np.flatnonzero(sites["motif"].to_numpy() == mi)
        window = genome[starts[sel][:, None] + np.arange(motif.length)[None, :]]
        scores[sel] = simulate_motifs.score_sites(motif, window, sites["strand"].to_numpy()[sel])
        sites.loc[sites.index[sel], "sequence"] = ["".join("ACGT"[c] for c in row) for row in window]
    sites["score"] = np.round(scores, 3)
    # A background site later overwritten by a planted one is no longer what was sampled.
    bg = sites["kind"] == "background"
    overlap = _overlaps_any(sites[bg], sites[~bg])
    intact[np.flatnonzero(bg.to_numpy())[overlap]] = False
    sites = sites[intact]
    sites["motif_id"] = [motifs[i].jaspar_id for i in sites["motif"]]
    sites["motif_name"] = [motifs[i].name for i in sites["motif"]]
    sites["side"] = np.where(sites["motif"] < k, "enhancer", "promoter")
    sites["family"] = sites["motif"] % k
    sites["chrom"] = [f"chr{i + 1}" for i in sites["chrom_index"]]
    sites = sites.sort_values(["chrom_index", "start", "kind"], kind="stable")
    return sites[["chrom", "start", "end", "strand", "motif_id", "motif_name", "side", "family",
                  "element_id", "kind", "score", "sequence"]].reset_index(drop=True)


def _overlaps_any(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
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
def _candidate_pairs(cfg, genes: pd.DataFrame, enh: pd.DataFrame) -> pd.DataFrame:
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
    n = len(genes)
    has = rng.random(n) < cfg.driver_gene_fraction
    n_drivers = np.where(has, np.minimum(1 + rng.poisson(cfg.extra_drivers_mean, n), cfg.max_drivers), 0)
    n_unclean = rng.binomial(n_drivers, cfg.unclean_fraction)
    n_clean = n_drivers - n_unclean
    eligible = cand["primary"].to_numpy() & (cand["rank"].to_numpy() < cfg.max_candidates)
    g = cand["g"].to_numpy()
    compat = cand["compatible"].to_numpy()
    # Closer enhancers are likelier drivers (a weak distance prior, far from "the nearest").
    weight = (cand["distance"].to_numpy() / cfg.hic_resolution) ** -cfg.driver_distance_decay
    rank = _rank_in_group(g * 2 + compat + np.where(eligible, 0, 2 * n), rng, weight)
    return eligible & np.where(compat, rank < n_clean[g], rank < n_unclean[g])


def _interactions(cfg, genes, enh, cand, rng) -> pd.DataFrame:
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


def _pairs_table(cfg, genes, enh, cand, inter, rng) -> pd.DataFrame:
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


# --------------------------------------------------------------------------- activity, expression
def _activities(cfg, genes, enh, inter, rng):
    ct0 = inter[inter["cell_type"] == cfg.cell_types[0]]
    enh_act = np.exp(rng.normal(0, cfg.activity_sd, len(enh)))
    drivers = np.zeros(len(enh), bool)
    drivers[ct0["e"].to_numpy()] = True
    enh_act = np.where(drivers, enh_act * cfg.driver_activity_boost, enh_act)
    enh_act = np.where(enh["family"].to_numpy() < 0, enh_act * cfg.inactive_activity, enh_act)
    prom_act = np.exp(rng.normal(0, cfg.activity_sd, len(genes)))

    def readout(a):
        return a * np.exp(rng.normal(0, cfg.track_noise, len(a)))

    return {"enhancer": enh_act, "promoter": prom_act,
            "enhancer_dnase": readout(enh_act), "enhancer_h3k27ac": readout(enh_act),
            "promoter_dnase": readout(prom_act), "promoter_h3k27ac": readout(prom_act)}


def _expression(cfg, genes, inter, act, rng):
    """Linear TPM-like expression per gene and each driver's planted effect.

    Expression lives in log space (``log TPM = log(scale) + log(promoter activity x drive +
    baseline) + half-life effects + noise``) and is written linear, as RNA-seq TPM would be.
    A driver's effect is the noise-free drop in ``log1p(TPM)`` when it is removed: the scale
    on which ``epi-encode --genes`` (log1p) trains and knockouts are predicted.

    Returns
    -------
    (expression (G,) float >= 0, half-life features (G, 8), per-driver table with ``effect``)
    """
    ct0 = inter[inter["cell_type"] == cfg.cell_types[0]].copy()
    contact = simulate_hic.expected_contact(ct0["distance"], cfg.hic_resolution, cfg.hic_alpha)
    ct0["contact"] = contact * (1.0 + cfg.hic_enrichment)
    ct0["activity"] = act["enhancer"][ct0["e"].to_numpy()]
    ct0["term"] = ct0["contact"] * ct0["activity"]
    total = np.bincount(ct0["g"], weights=ct0["term"], minlength=len(genes))
    p = act["promoter"]
    hl = rng.normal(0, 1, (len(genes), N_HALF_LIFE_FEATURES))
    gene_effect = np.log(cfg.expression_scale) + hl @ np.asarray(HALF_LIFE_WEIGHTS)
    clean = np.log(p * total + cfg.expression_baseline) + gene_effect
    expression = np.exp(clean + rng.normal(0, cfg.expression_noise, len(genes)))
    g = ct0["g"].to_numpy()
    without = np.log(p[g] * (total[g] - ct0["term"].to_numpy()) + cfg.expression_baseline) + gene_effect[g]
    ct0["effect"] = np.log1p(np.exp(clean[g])) - np.log1p(np.exp(without))
    return expression, hl, ct0


# --------------------------------------------------------------------------- writers
def _write_fasta(path: Path, chroms, genome: np.ndarray, size: int, width: int = 60) -> None:
    lut = np.frombuffer(b"ACGTN", dtype=np.uint8)
    fai = []
    offset = 0
    with open(path, "wb") as fh:
        for ci, chrom in enumerate(chroms):
            header = f">{chrom}\n".encode()
            fh.write(header)
            offset += len(header)
            seq = lut[genome[ci * size:(ci + 1) * size]]
            full = size // width
            body = np.concatenate([seq[: full * width].reshape(full, width),
                                   np.full((full, 1), ord("\n"), np.uint8)], axis=1).tobytes()
            rest = seq[full * width:].tobytes()
            fh.write(body)
            if rest:
                fh.write(rest + b"\n")
            fai.append(f"{chrom}\t{size}\t{offset}\t{width}\t{width + 1}\n")
            offset += len(body) + (len(rest) + 1 if rest else 0)
    Path(f"{path}.fai").write_text("".join(fai))


def _write_bed(path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(path, sep="\t", header=False, index=False, float_format="%.4f")


def _truth(cfg, seed, motifs, genes, enh, inter, effects, expression, summary) -> dict:
    k = len(cfg.enhancer_motifs)
    enh_ids = enh["enhancer_id"].to_numpy()
    gene_ids = genes["gene"].to_numpy()
    drivers = {}
    for g, rows in effects.groupby("g", sort=True):
        drivers[gene_ids[g]] = [
            {"enhancer_id": enh_ids[e], "effect": round(float(ef), 6), "distance": int(d),
             "activity": round(float(a), 6), "contact": round(float(c), 6)}
            for e, ef, d, a, c in zip(rows["e"], rows["effect"], rows["distance"],
                                      rows["activity"], rows["contact"])]
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "seed": int(seed),
        "parameters": cfg.to_dict(),
        "jaspar_release": simulate_motifs.JASPAR_RELEASE,
        "motifs": {
            "enhancer": [dict(m.to_dict(), family=i) for i, m in enumerate(motifs[:k])],
            "promoter": [dict(m.to_dict(), family=i) for i, m in enumerate(motifs[k:])],
        },
        "grammar": [{"enhancer_family": i, "promoter_family": i,
                     "enhancer_motif": motifs[i].jaspar_id, "enhancer_tf": motifs[i].name,
                     "promoter_motif": motifs[k + i].jaspar_id, "promoter_tf": motifs[k + i].name}
                    for i in range(k)],
        "element_families": {
            "enhancer": dict(zip(enh_ids, enh["family"].astype(int).tolist())),
            "promoter": dict(zip(genes["promoter_id"], genes["family"].astype(int).tolist())),
        },
        "interactions": [
            {"cell_type": ct, "enhancer_id": enh_ids[e], "gene": gene_ids[g],
             "promoter_id": genes["promoter_id"].to_numpy()[g], "distance": int(d), "clean": bool(c)}
            for ct, g, e, d, c in zip(inter["cell_type"], inter["g"], inter["e"],
                                       inter["distance"], inter["clean"])],
        "expression_model": {
            "formula": "expression (TPM) = scale * exp(log(promoter_activity * sum_drivers(activity"
                       " * contact) + baseline) + hl @ half_life_weights + normal(0, noise))",
            "scale": cfg.expression_scale,
            "contact": "(max(distance, resolution) / resolution) ** -alpha * (1 + enrichment)",
            "cell_type": cfg.cell_types[0], "baseline": cfg.expression_baseline,
            "noise": cfg.expression_noise, "half_life_weights": list(HALF_LIFE_WEIGHTS),
            "alpha": cfg.hic_alpha, "enrichment": cfg.hic_enrichment,
            "resolution": cfg.hic_resolution,
            "effect": "drop in log1p(expression) when the enhancer is removed (noise-free)",
        },
        "genes": {gid: {"expression": round(float(x), 6), "drivers": drivers.get(gid, [])}
                  for gid, x in zip(gene_ids, expression)},
        "summary": summary,
    }


# --------------------------------------------------------------------------- entry point
def simulate(out_dir, seed: int = 0, config: SimulationConfig | None = None,
             overwrite: bool = False) -> dict:
    """Generate a simulated data set into ``out_dir`` (written atomically).

    Parameters
    ----------
    out_dir : str or Path
        Output directory; it must not exist or be empty unless ``overwrite``.
    seed : int
        Random seed; the same seed and config give byte-identical files.
    config : SimulationConfig, optional
        Parameters (``SimulationConfig.default()`` when None).
    overwrite : bool
        Replace an existing non-empty ``out_dir``.

    Returns
    -------
    dict
        Summary: counts of chromosomes, elements, genes, pairs and the files written.
    """
    t0 = time.perf_counter()
    cfg = config or SimulationConfig.default()
    cfg.validate()
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UsageError(f"{out} exists and is not empty (use overwrite / --force to replace it)")

    chroms = _chrom_names(cfg.n_chroms)
    chrom_sizes = {c: cfg.chrom_size for c in chroms}
    offsets = np.arange(cfg.n_chroms, dtype=np.int64) * cfg.chrom_size
    motifs = simulate_motifs.load_motifs(list(cfg.enhancer_motifs) + list(cfg.promoter_motifs))

    bar = progress(total=4, desc="simulate", unit="stage")
    genes = _place_genes(cfg, chroms, _stream(seed, 1))
    enh = _place_enhancers(cfg, chroms, genes, _stream(seed, 2))
    genome = _background_genome(cfg, _stream(seed, 3))
    sites = _plant_motifs(cfg, genome, offsets, genes, enh, motifs, _stream(seed, 4))
    bar.update()
    cand = _candidate_pairs(cfg, genes, enh)
    inter = _interactions(cfg, genes, enh, cand, _stream(seed, 5))
    pairs = _pairs_table(cfg, genes, enh, cand, inter, _stream(seed, 6))
    act = _activities(cfg, genes, enh, inter, _stream(seed, 7))
    expression, hl, effects = _expression(cfg, genes, inter, act, _stream(seed, 8))

    bar.update()
    ct0 = inter[inter["cell_type"] == cfg.cell_types[0]]
    res = cfg.hic_resolution
    enriched = {}
    for ci, chrom in enumerate(chroms):
        sel = ct0[genes["chrom_index"].to_numpy()[ct0["g"]] == ci]
        enriched[chrom] = np.stack([enh["centre"].to_numpy()[sel["e"]] // res,
                                    genes["tss"].to_numpy()[sel["g"]] // res], axis=1)
    bins, pixels = simulate_hic.simulate_pixels(chrom_sizes, res, cfg.hic_depth, cfg.hic_alpha,
                                                cfg.hic_max_distance, enriched, cfg.hic_enrichment,
                                                _stream(seed, 9))

    bar.update()
    counts = {ct: {"positives": int(((pairs["cell_type"] == ct) & (pairs["label"] == 1)).sum()),
                   "negatives": int(((pairs["cell_type"] == ct) & (pairs["label"] == 0)).sum())}
              for ct in cfg.cell_types}
    files = ["genome.fa", "genome.fa.fai", "chrom.sizes", "enhancers.bed", "promoters.bed",
             "elements.bed", "pairs.tsv", "genes.tsv", "motif_sites.tsv", "dnase.bedGraph",
             "dnase.bw", "h3k27ac.bedGraph", "h3k27ac.bw", "hic.cool", "hic.mcool", "truth.json"]
    summary = {"out": str(out), "seed": int(seed), "n_chroms": cfg.n_chroms,
               "genome_size": cfg.n_chroms * cfg.chrom_size, "n_genes": len(genes),
               "n_enhancers": len(enh), "n_overlapping_enhancers": int((~enh["is_primary"]).sum()),
               "n_motif_sites": int((sites["kind"] != "background").sum()),
               "pairs": counts, "n_pixels": len(pixels), "files": files}

    with atomic_path(out, is_dir=True) as tmp:
        _write_fasta(tmp / "genome.fa", chroms, genome, cfg.chrom_size)
        (tmp / "chrom.sizes").write_text("".join(f"{c}\t{s}\n" for c, s in chrom_sizes.items()))
        _write_bed(tmp / "enhancers.bed", enh[["chrom", "start", "end", "enhancer_id"]])
        _write_bed(tmp / "promoters.bed", genes[["chrom", "start", "end", "promoter_id"]]
                   .assign(score=0, strand=genes["strand"]))
        _write_bed(tmp / "elements.bed", enh[["chrom", "start", "end", "enhancer_id"]]
                   .assign(dnase=np.round(act["enhancer_dnase"], 4),
                           h3k27ac=np.round(act["enhancer_h3k27ac"], 4)))
        pairs.to_csv(tmp / "pairs.tsv", sep="\t", index=False)
        gene_table = genes[["gene", "chrom", "tss", "strand"]].assign(expression=np.round(expression, 6))
        for j in range(N_HALF_LIFE_FEATURES):
            gene_table[f"hl_{j + 1}"] = np.round(hl[:, j], 6)
        gene_table["promoter_id"] = genes["promoter_id"]
        gene_table.to_csv(tmp / "genes.tsv", sep="\t", index=False)
        sites.to_csv(tmp / "motif_sites.tsv", sep="\t", index=False)
        for mark in ("dnase", "h3k27ac"):
            segments = simulate_tracks.flatten_intervals(
                np.concatenate([enh["chrom"], genes["chrom"]]),
                np.concatenate([enh["start"], genes["start"]]),
                np.concatenate([enh["end"], genes["end"]]),
                np.concatenate([act[f"enhancer_{mark}"], act[f"promoter_{mark}"]]), chroms)
            write_bedgraph(segments, tmp / f"{mark}.bedGraph")
            write_bigwig(segments, tmp / f"{mark}.bw", chrom_sizes)
        simulate_hic.write_cool(tmp / "hic.cool", bins, pixels, assembly="sim")
        simulate_hic.write_mcool(tmp / "hic.mcool", tmp / "hic.cool", cfg.mcool_resolutions)
        truth = _truth(cfg, seed, motifs, genes, enh, inter, effects, expression,
                       {k: v for k, v in summary.items() if k != "out"})
        (tmp / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    bar.update()
    bar.close()

    summary["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("simulated %d chromosomes x %d bp, %d genes, %d enhancers; pairs %s -> %s (%.1f s)",
             cfg.n_chroms, cfg.chrom_size, len(genes), len(enh), counts, out, summary["seconds"])
    return summary
