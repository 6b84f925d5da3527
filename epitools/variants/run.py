"""``epi-variants`` end to end: read a VCF, score it with pair models and/or EPInformer, calibrate
against a background null and write the effects table, the per-variant summary and the
annotated VCF.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from epitools import __version__
from epitools.errors import UsageError
from epitools.io.atomic import atomic_path, write_text
from epitools.training.quality import WARNING_KEY, log_checkpoint_warning
from epitools.variants.null import best_effects, calibrate, shuffled_snvs
from epitools.variants.output import write_annotated_vcf, write_table
from epitools.variants.vcf import read_variants

log = logging.getLogger(__name__)

VARIANT_FIELDS = ["variant_id", "chrom", "pos", "ref", "alt", "kind"]
NOT_SCORED = "not_scored_outside_windows"


def _pair_rows(scorer, variants, pairs) -> pd.DataFrame:
    effects = scorer(variants)
    if effects.empty:
        return effects.assign(target=[], gene=[], score_ref=[], score_alt=[], delta=[], delta_logit=[])
    pair_ids = (pairs["pair_id"].astype(str).to_numpy() if "pair_id" in pairs
                else np.arange(len(pairs)).astype(str))
    effects["target"] = pair_ids[effects["pair"].to_numpy()]
    effects["gene"] = pairs["gene"].to_numpy()[effects["pair"].to_numpy()] if "gene" in pairs else ""
    effects["delta_logit"] = effects["logit_alt"] - effects["logit_ref"]
    effects["score_ref"] = 1.0 / (1.0 + np.exp(-effects["logit_ref"]))
    effects["score_alt"] = 1.0 / (1.0 + np.exp(-effects["logit_alt"]))
    effects["delta"] = effects["score_alt"] - effects["score_ref"]
    return effects.rename(columns={"pair": "pair_index"})


def _gene_rows(predictor, variants, store, genome) -> pd.DataFrame:
    from epitools.variants.gene_effects import gene_effects

    effects = gene_effects(predictor.model, store, variants, genome, device=predictor.device)
    effects = effects.rename(columns={"expression_ref": "score_ref", "expression_alt": "score_alt"})
    effects["target"] = effects["gene"]
    effects["delta"] = effects["score_alt"] - effects["score_ref"]
    effects["delta_attention"] = effects["attention_alt"] - effects["attention_ref"]
    effects["delta_attention_abc"] = effects["attention_abc_alt"] - effects["attention_abc_ref"]
    effects["rank_change"] = effects["rank_alt"] - effects["rank_ref"]
    return effects.drop(columns=["gene_index", "slot"])


def model_scorer(predictor, genome, pairs=None, gene_store=None):
    """A function ``variants -> (effects, ranking column)`` for one model: ``delta_logit`` for pair
    models (a :class:`~epitools.variants.pair_effects.PairScorer`, whose REF embeddings and
    logits serve every later call), ``delta`` = Δ log expression for EPInformer."""
    if predictor.task == "pairs":
        if pairs is None:
            raise UsageError(f"model {predictor.path} scores pairs: give --pairs")
        from epitools.variants.pair_effects import PairScorer

        scorer = PairScorer(predictor, pairs, genome)
        return lambda variants: (_pair_rows(scorer, variants, pairs), "delta_logit")
    if gene_store is None:
        raise UsageError(f"model {predictor.path} predicts expression: give a gene store with --data")
    return lambda variants: (_gene_rows(predictor, variants, gene_store, genome), "delta")


def model_effects(predictor, variants, genome, pairs=None, gene_store=None) -> tuple[pd.DataFrame, str]:
    """Effects of ``variants`` under one model and the column ranking them (see :func:`model_scorer`)."""
    return model_scorer(predictor, genome, pairs, gene_store)(variants)


def _explain(predictor, variants, best, table, pairs, genome, top: int) -> dict | None:
    if predictor.task != "pairs" or best.empty:
        log.info("--attribute explains pair models; %s is skipped", predictor.path)
        return None
    from epitools.variants.attribute import explain_pairs

    return explain_pairs(predictor, variants, best, table, pairs, genome, top)


def _half_window(predictor, gene_store) -> int:
    if predictor.task == "pairs":
        return min(predictor.geometry.enhancer_length, predictor.geometry.promoter_length) // 2
    return predictor.model.enhancer_length // 2


def score_variants(vcf, genome_path, checkpoints, out, *, pairs_path=None, gene_store=None,
                   skip_ref_mismatch: bool = False, n_null: int = 0, null_vcf=None, seed: int = 0,
                   device: str = "auto", attribute_top: int = 0) -> dict:
    """Score every variant of ``vcf`` with each checkpoint and write the outputs into ``out``.

    Writes ``effects.tsv`` (one row per variant, model and pair or gene; variants no window holds
    get one row per model with status ``not_scored_outside_windows``), ``summary.tsv`` (per
    variant and model: the best target, its effect, empirical p and z against the null),
    ``variants.annotated.vcf.gz`` and ``run.json``; with ``attribute_top``, ISM of REF and ALT and
    the motif gained or lost for that many top variants of each pair model into
    ``attributions_<model>.npz``. Returns the run record.

    Each checkpoint is first checked by :func:`epitools.training.quality.model_warning`: a
    model near chance on its held-out rows, or without held-out metrics, is warned about on the
    log and its rows of both tables carry the warning in a ``model_warning`` column (empty for
    a model that cleared the thresholds), as are ``run.json`` and the annotated VCF's header.
    """
    from epitools.io.genome import Genome
    from epitools.training.predict import Predictor

    if not checkpoints:
        raise UsageError("give at least one --model")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with Genome(genome_path) as genome:
        variants, counts = read_variants(vcf, genome, skip_ref_mismatch=skip_ref_mismatch)
        background = None
        if null_vcf is not None:
            background, _ = read_variants(null_vcf, genome, skip_ref_mismatch=True)
        pairs = None
        if pairs_path is not None:
            from epitools.io.pairs import read_pairs

            pairs = read_pairs(pairs_path)
        effects, summaries, models, explained = [], [], [], []
        for checkpoint in checkpoints:
            predictor = Predictor(checkpoint, device=device)
            label = f"{predictor.name}:{Path(checkpoint).parent.name or Path(checkpoint).stem}"
            warning = log_checkpoint_warning(checkpoint, log) or ""
            score = model_scorer(predictor, genome, pairs, gene_store)
            table, column = score(variants)
            best = best_effects(table, column)
            null = background if background is not None else shuffled_snvs(
                variants.iloc[np.unique(table["variant"].to_numpy(np.int64))] if len(table) else variants.iloc[:0],
                genome, n_null, _half_window(predictor, gene_store), rng)
            null_best = best_effects(score(null)[0], column) \
                if len(null) else best_effects(table.iloc[:0], column)
            p, z = calibrate(best["effect"].to_numpy(), null_best["effect"].to_numpy())
            if attribute_top:
                explained.append((label, _explain(predictor, variants, best, table, pairs, genome, attribute_top)))
            summaries.append(_summary(variants, table, best, p, z, label, warning))
            effects.append((label, warning, table.assign(model=label)))
            models.append({"checkpoint": os.fspath(checkpoint), "model": label, "task": predictor.task,
                           "effect": column, "n_scored": int(best["variant"].nunique()),
                           "n_null": int(len(null_best)), WARNING_KEY: warning})
        effects = _effects_table(variants, effects)
        summary = pd.concat(summaries, ignore_index=True)
    write_table(effects, out / "effects.tsv")
    write_table(summary.drop(columns="record"), out / "summary.tsv")
    write_annotated_vcf(vcf, summary, out / "variants.annotated.vcf.gz")
    for label, arrays in explained:
        if arrays:
            with atomic_path(out / f"attributions_{label.replace(':', '_')}.npz") as tmp, open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
    run = {"vcf": os.fspath(vcf), "genome": os.fspath(genome_path), "pairs": os.fspath(pairs_path or ""),
           "gene_store": os.fspath(gene_store or ""), "counts": {**counts, "variants": int(len(variants))},
           "models": models, "seed": int(seed), "n_null": int(n_null),
           "null_vcf": os.fspath(null_vcf or ""), "tool_version": __version__}
    write_text(out / "run.json", json.dumps(run, indent=2) + "\n")
    log.info("scored %d variants with %d model(s) -> %s", len(variants), len(models), out)
    return run


def _summary(variants, table, best, p, z, label, warning: str) -> pd.DataFrame:
    base = variants[VARIANT_FIELDS + ["record"]].reset_index(drop=True).copy()
    base["model"] = label
    base[WARNING_KEY] = warning
    base["status"] = NOT_SCORED
    for col in ("target", "element", "effect", "z", "p_empirical", "n_targets"):
        base[col] = np.nan if col not in ("target", "element") else ""
    rows = best["variant"].to_numpy(np.int64)
    chosen = table.loc[best["row"].to_numpy()]
    base.loc[rows, "status"] = "scored"
    base.loc[rows, "target"] = chosen["target"].astype(str).to_numpy()
    base.loc[rows, "element"] = chosen["element"].astype(str).to_numpy()
    base.loc[rows, "effect"] = best["effect"].to_numpy()
    base.loc[rows, "n_targets"] = best["n_targets"].to_numpy()
    base.loc[rows, "z"] = z
    base.loc[rows, "p_empirical"] = p
    return base


def _effects_table(variants, tables) -> pd.DataFrame:
    parts = []
    for label, warning, table in tables:
        scored = table.merge(variants[VARIANT_FIELDS], left_on="variant", right_index=True, how="left")
        scored["status"] = "scored"
        missing = np.setdiff1d(np.arange(len(variants)), table["variant"].to_numpy(np.int64))
        unscored = variants.iloc[missing][VARIANT_FIELDS].assign(status=NOT_SCORED, model=label)
        parts += [scored.drop(columns="variant").assign(**{WARNING_KEY: warning}),
                  unscored.assign(**{WARNING_KEY: warning})]
    merged = pd.concat(parts, ignore_index=True)
    lead = VARIANT_FIELDS + ["model", WARNING_KEY, "status", "element", "target", "gene", "score_ref", "score_alt",
                             "delta"]
    return merged[[c for c in lead if c in merged] + [c for c in merged if c not in lead]]
