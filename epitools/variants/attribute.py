"""``--attribute``: in-silico mutagenesis of REF and ALT around top variants, and motif gain/loss.

For a pair model, the window holding the variant is mutated at every position of
``radius`` bp either side of it to each other base; with the partner's embedding fixed, the
attribution of the observed base is its logit minus the mean logit over the four bases
(mean-centred ISM). The JASPAR CORE vertebrate motif whose best FIMO score (memelite) in the
``2 * radius`` bp around the variant changes most between REF and ALT is reported as gained
(ALT higher) or lost.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from epitools.data.encoding import one_hot
from epitools.variants.alleles import alt_windows
from epitools.variants.pair_effects import embed_codes, embedded_logits

log = logging.getLogger(__name__)
RADIUS = 20
JASPAR_RELEASE = "JASPAR2024"


@lru_cache(maxsize=1)
def jaspar_pwms(release: str = JASPAR_RELEASE) -> dict:
    """``{"<matrix id> <name>": (4, L) probabilities}`` of JASPAR CORE vertebrates (pyjaspar, offline)."""
    from pyjaspar import jaspardb

    records = jaspardb(release=release).fetch_motifs(collection="CORE", tax_group=["vertebrates"],
                                                     all_versions=False)
    out = {}
    for rec in records:
        counts = np.array([rec.counts[b] for b in "ACGT"], dtype=np.float64) + 0.25
        out[f"{rec.matrix_id} {rec.name}"] = (counts / counts.sum(0, keepdims=True)).astype(np.float32)
    return out


def motif_change(ref_codes: np.ndarray, alt_codes: np.ndarray) -> tuple[str, float]:
    """The motif whose best FIMO score differs most between two short windows (L,) and the change
    (ALT - REF, positive = gained); ("", 0.0) when no motif scores on either."""
    from memelite import fimo

    x = one_hot(torch.from_numpy(np.stack([ref_codes, alt_codes]))).numpy().astype(np.float32)
    hits = fimo(jaspar_pwms(), x, threshold=1e-3)
    best = {}
    for table in hits:
        for row in table.itertuples(index=False):
            key = (row.motif_name, int(row.sequence_name))
            best[key] = max(best.get(key, -np.inf), float(row.score))
    names = {name for name, _ in best}
    if not names:
        return "", 0.0
    change = {n: best.get((n, 1), 0.0) - best.get((n, 0), 0.0) for n in names}
    name = max(change, key=lambda n: abs(change[n]))
    return name, float(change[name])


@torch.no_grad()
def pair_ism(predictor, codes: np.ndarray, partner: np.ndarray, side: str, centre: int, radius: int = RADIUS
             ) -> np.ndarray:
    """Mean-centred ISM (2 * radius + 1, 4) of window ``codes`` (L,) around ``centre``, the other
    side's window ``partner`` fixed; row i is position ``centre - radius + i``."""
    model, geometry = predictor.model, predictor.geometry
    length = len(codes)
    positions = np.clip(np.arange(centre - radius, centre + radius + 1), 0, length - 1)
    mutants = np.repeat(codes[None], len(positions) * 4, axis=0)
    mutants[np.arange(len(mutants)), np.repeat(positions, 4)] = np.tile(np.arange(4, dtype=np.uint8), len(positions))
    other = "promoter" if side == "enhancer" else "enhancer"
    embed = {"enhancer": model.embed_enhancer, "promoter": model.embed_promoter}
    own = embed_codes(embed[side], mutants, geometry, predictor.device)
    fixed = embed_codes(embed[other], partner[None], geometry, predictor.device)
    zeros = np.zeros(len(mutants), np.int64)
    idx = np.arange(len(mutants))
    logits = (embedded_logits(model, own, fixed, idx, zeros) if side == "enhancer"
              else embedded_logits(model, fixed, own, zeros, idx)).reshape(len(positions), 4)
    return logits - logits.mean(1, keepdims=True)


def explain_pairs(predictor, variants: pd.DataFrame, best: pd.DataFrame, effects: pd.DataFrame, pairs, genome,
                  top: int, radius: int = RADIUS) -> dict:
    """ISM of REF and ALT and motif gain/loss for the ``top`` variants of one pair model.

    Returns arrays for ``attributions.npz``: ``variant_id`` (t,), ``ref``/``alt`` (t, 2r+1, 4)
    attributions, ``ref_codes``/``alt_codes`` (t, 2r+1) and ``motif`` (t,), ``motif_change`` (t,).
    """
    from epitools.data.windows import centered_starts

    geometry = predictor.geometry
    lengths = {"enhancer": geometry.enhancer_length, "promoter": geometry.promoter_length}
    chosen = best.reindex(best["effect"].abs().sort_values(ascending=False).index).head(top)
    out = {k: [] for k in ("variant_id", "ref", "alt", "ref_codes", "alt_codes", "motif", "motif_change")}
    for row in chosen.itertuples(index=False):
        hit = effects.loc[row.row]
        v = variants.iloc[int(row.variant)]
        pair = pairs.iloc[int(hit["pair_index"])]
        side = hit["element"]
        other = "promoter" if side == "enhancer" else "enhancer"
        win = {s: int(centered_starts([pair[f"{s}_start"]], [pair[f"{s}_end"]], lengths[s])[0]) for s in lengths}
        chrom = {s: genome.resolve(pair[f"{s}_chrom"]) for s in lengths}
        ref = genome.fetch_windows([chrom[side]], [win[side]], lengths[side])[0]
        offset = int(v["start"]) - win[side]
        alt = alt_windows(genome, [chrom[side]], [win[side]], [offset], [v["ref"]], [v["alt"]], lengths[side])[0]
        partner = genome.fetch_windows([chrom[other]], [win[other]], lengths[other])[0]
        cut = np.clip(np.arange(offset - radius, offset + radius + 1), 0, lengths[side] - 1)
        out["variant_id"].append(v["variant_id"])
        out["ref"].append(pair_ism(predictor, ref, partner, side, offset, radius))
        out["alt"].append(pair_ism(predictor, alt, partner, side, offset, radius))
        out["ref_codes"].append(ref[cut])
        out["alt_codes"].append(alt[cut])
        name, change = motif_change(ref[cut], alt[cut])
        out["motif"].append(name)
        out["motif_change"].append(change)
    return {k: np.asarray(v) for k, v in out.items()}
