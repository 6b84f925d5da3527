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
- ``signal_mark``/``signal_ctcf`` ``.bedGraph`` and ``.bw``: EPIPDLF's genomic features, the
  first with a planted effect on interacting elements (:mod:`epitools.data.simulate_signals`).
- ``truth.json``: motifs (JASPAR IDs, counts), grammar, interactions, each gene's drivers
  with their planted knockout effect (the noise-free drop in log1p(TPM) when the enhancer
  is removed), parameters and seed; ``variants``: the planted variants, their class and
  expected sign.
- ``variants.vcf.gz`` (+ ``.tbi``): motif-breaking, neutral and outside-window SNVs and indels
  (:mod:`epitools.data.simulate_variants`).
- with ``activity_library`` > 0: ``activity_library.fa``/``.bed``/``_sites.tsv``, windows with
  varied and broken motif copies to pre-train EPInformer's sequence encoder on
  (:mod:`epitools.data.simulate_library`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from epitools import __version__
from epitools.data import simulate_hic, simulate_motifs, simulate_tracks, simulate_variants
from epitools.data import simulate_files, simulate_library
from epitools.data import simulate_signals
from epitools.data.encoding import reverse_complement
# PAIR_COLUMNS and SimulationConfig are part of this module's API (``from ...simulate import``)
from epitools.data.simulate_config import (HALF_LIFE_WEIGHTS, N_HALF_LIFE_FEATURES, PAIR_COLUMNS,  # noqa: F401
                                           SimulationConfig)
from epitools.data.simulate_layout import (candidate_pairs, chrom_names, interactions, overlaps_any,
                                           pairs_table, place_enhancers, place_genes)
from epitools.io.tracks import write_bedgraph, write_bigwig
from epitools.errors import UsageError
from epitools.io.atomic import atomic_path
from epitools.progress import progress

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_SLOT_PAD = 6
_BACKGROUND_SITES_PER_KB = 0.5
# Planted copies of an element's family motif (plus a decoy slot) spread over this many bp
# around its centre: inside the shortest enhancer, and inside any window a model reads.
_MOTIF_CORE = 240
LIBRARY_WINDOW = 256  # EPInformer's pre-training window


def _stream(seed: int, stage: int) -> np.random.Generator:
    # One independent stream per stage: changing one stage leaves the others' draws intact.
    return np.random.default_rng([int(seed), stage])


# --------------------------------------------------------------------------- sequence
def background_bases(n: int, gc: float, rng) -> np.ndarray:
    """``n`` i.i.d. base codes at GC fraction ``gc``, shape (n,) uint8."""
    at = (1 - gc) / 2
    u = rng.random(n, dtype=np.float32)
    # A, C, G, T with probabilities at, gc/2, gc/2, at.
    return ((u >= at).astype(np.uint8) + (u >= 0.5) + (u >= 1 - at)).astype(np.uint8)


def _background_genome(cfg: SimulationConfig, rng) -> np.ndarray:
    return background_bases(cfg.n_chroms * cfg.chrom_size, cfg.gc, rng)


def _motif_copies(cfg, genes, enh, rng) -> tuple[np.ndarray, np.ndarray]:
    """Planted copies per enhancer (0 when unbound) and per promoter, shapes (E,), (G,).

    Overlapping (non-primary) enhancers share their primary's sites and keep ``motif_copies``.
    """
    def draw(n):
        if cfg.motif_copies_min is None:
            return np.full(n, cfg.motif_copies, np.int64)
        return rng.integers(cfg.motif_copies_min, cfg.motif_copies + 1, n)

    enh_copies = draw(len(enh))
    enh_copies[~enh["is_primary"].to_numpy()] = cfg.motif_copies
    enh_copies[enh["family"].to_numpy() < 0] = 0
    return enh_copies, draw(len(genes))


def _element_sites(cfg, motifs_per_side: int, family_offset: int, chrom_index, centre,
                   family, element_ids, copies, max_len: int, rng) -> pd.DataFrame:
    """Planted (``copies`` per element) and decoy (probability ``noise``) sites at element centres.

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
    planted = np.arange(cfg.motif_copies)[None, :] < np.asarray(copies)[:, None]
    el_planted = np.nonzero(planted)[0]
    rows_el = np.concatenate([el_planted, np.flatnonzero(has_decoy)])
    rows_slot = np.concatenate([slots[:, : cfg.motif_copies][planted], slots[has_decoy, cfg.motif_copies]])
    rows_fam = np.concatenate([np.asarray(family)[el_planted], decoy_family[has_decoy]])
    kind = np.array(["planted"] * len(el_planted) + ["decoy"] * int(has_decoy.sum()))
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
        codes[minus] = reverse_complement(codes[minus])
        base = offsets[sites["chrom_index"].to_numpy()[sel]] + sites["start"].to_numpy()[sel]
        genome[base[:, None] + np.arange(motif.length)[None, :]] = codes
    return sites


def _plant_motifs(cfg, genome, offsets, genes, enh, motifs, copies, rng) -> pd.DataFrame:
    k = len(cfg.enhancer_motifs)
    max_len = max(m.length for m in motifs)
    bound = (enh["is_primary"] & (enh["family"] >= 0)).to_numpy()
    prim = enh[bound]
    planted = pd.concat([
        _element_sites(cfg, k, 0, prim["chrom_index"], prim["centre"], prim["family"].to_numpy(),
                       prim["enhancer_id"], copies[0][bound], max_len, rng),
        _element_sites(cfg, k, k, genes["chrom_index"], genes["tss"], genes["family"].to_numpy(),
                       genes["promoter_id"], copies[1], max_len, rng),
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
    overlap = overlaps_any(sites[bg], sites[~bg])
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


# --------------------------------------------------------------------------- activity, expression
def _activities(cfg, genes, enh, inter, copies, rng):
    """Activity per enhancer and promoter and their DNase/H3K27ac readouts, each (E,) or (G,).

    Bound elements scale with their intact planted copies (motif dosage,
    :class:`SimulationConfig`): a factor of 1 unless ``motif_copies_min`` varies them.
    """
    ct0 = inter[inter["cell_type"] == cfg.cell_types[0]]
    enh_act = np.exp(rng.normal(0, cfg.activity_sd, len(enh)))
    dosage = np.where(copies[0] > 0, copies[0] / cfg.motif_copies, 1.0)
    drivers = np.zeros(len(enh), bool)
    drivers[ct0["e"].to_numpy()] = True
    enh_act = np.where(drivers, enh_act * cfg.driver_activity_boost, enh_act)
    enh_act = np.where(enh["family"].to_numpy() < 0, enh_act * cfg.inactive_activity, enh_act)
    enh_act = enh_act * dosage
    prom_act = np.exp(rng.normal(0, cfg.activity_sd, len(genes))) * (copies[1] / cfg.motif_copies)

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
    on which ``epi-encode genes`` (log1p) trains and knockouts are predicted.

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

    chroms = chrom_names(cfg.n_chroms)
    chrom_sizes = {c: cfg.chrom_size for c in chroms}
    offsets = np.arange(cfg.n_chroms, dtype=np.int64) * cfg.chrom_size
    motifs = simulate_motifs.load_motifs(list(cfg.enhancer_motifs) + list(cfg.promoter_motifs))

    bar = progress(total=4, desc="simulate", unit="stage")
    genes = place_genes(cfg, chroms, _stream(seed, 1))
    enh = place_enhancers(cfg, chroms, genes, _stream(seed, 2))
    genome = _background_genome(cfg, _stream(seed, 3))
    # stage 22: its own stream, so fixed copy numbers leave every earlier draw as it was
    copies = _motif_copies(cfg, genes, enh, _stream(seed, 22))
    sites = _plant_motifs(cfg, genome, offsets, genes, enh, motifs, copies, _stream(seed, 4))
    bar.update()
    cand = candidate_pairs(cfg, genes, enh)
    inter = interactions(cfg, genes, enh, cand, _stream(seed, 5))
    pairs = pairs_table(cfg, genes, enh, cand, inter, _stream(seed, 6))
    act = _activities(cfg, genes, enh, inter, copies, _stream(seed, 7))
    expression, hl, effects = _expression(cfg, genes, inter, act, _stream(seed, 8))
    # stage 20: an independent stream, so the planted variants leave every other file unchanged
    variants = simulate_variants.plant_variants(genome, offsets, chroms, genes, enh, sites, inter, motifs,
                                                cfg.cell_types[0], _stream(seed, 20))

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
             "dnase.bw", "h3k27ac.bedGraph", "h3k27ac.bw", "hic.cool", "hic.mcool", "truth.json",
             "variants.vcf.gz", "variants.vcf.gz.tbi"]
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
        simulate_variants.write_vcf(tmp / "variants.vcf.gz", variants, chrom_sizes)
        truth["variants"] = simulate_variants.truth_records(variants)
        (tmp / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
        # after truth.json, so the files it lists (and every earlier file) stay byte-identical
        summary["files"] = summary["files"] + simulate_files.write_genome_mode_files(
            tmp, seed, genes, enh, act, chrom_sizes)
        simulate_hic.write_hic_from_cool(tmp / "hic.hic", tmp / "hic.cool")
        summary["files"] = summary["files"] + ["hic.hic"]
        summary["files"] = summary["files"] + simulate_signals.write_signal_tracks(
            tmp, pairs, chroms, chrom_sizes, _stream(seed, 21))
        if cfg.activity_library:
            codes, library = simulate_library.library_windows(cfg, motifs, cfg.activity_library, LIBRARY_WINDOW,
                                                              cfg.library_break_fraction, _stream(seed, 23))
            summary["files"] = summary["files"] + simulate_library.write_library(tmp, codes, library, motifs)
    bar.update()
    bar.close()

    summary["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("simulated %d chromosomes x %d bp, %d genes, %d enhancers; pairs %s -> %s (%.1f s)",
             cfg.n_chroms, cfg.chrom_size, len(genes), len(enh), counts, out, summary["seconds"])
    return summary
