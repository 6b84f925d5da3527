"""Issue 20 acceptance on planted truth: motif-breaking variants of epi-simulate rank above the
neutral ones of the same elements by |Δ| and carry the planted (negative) sign.

Pair model: SIMCNN on 256-bp windows with the recipe of test_attribute_integration's
simulated chain (AUROC ~0.99 on held-out chromosomes). Per variant, the interacting pair
(label 1) of the element it was planted in with the largest |Δ logit|. EPInformer: the
sequence encoder pre-trained on element activity (the paper's pre-training), then the
interaction and predictor layers on cached embeddings (bench/prioritize_drivers.py), variant
``PE`` so that activity must come from sequence; per variant the driven gene's Δ expression.

Slow (about 25 minutes on a CPU; excluded from ``make test``). The EPInformer half is a strict xfail:
it fails today (AUROC ~0.5) and the marker turns it into a failure once it passes. Its blockers are
the simulation's expression, then the expression model; not the encoder (``bench/epinformer_variant_effects.py``). With
``drivers="sampled"`` (the default, used here) which candidates drive a gene, and whether it has
any, is drawn, not written in sequence: what sequence, distance and half-life tell predicts log
expression at R 0.24, and EPInformer-PE's validation MSE stays near the variance (R 0.20). With
``drivers="compatible"`` (every bound candidate of the gene's family drives it) that ceiling is
R 0.82 and the library-pre-trained encoder ranks the breaking SNVs at AUROC 0.998 by its own
predicted activity, yet EPInformer-PE on cached embeddings reaches validation R 0.39 and its
variant Δ AUROC 0.67, 33 % negative: it does not learn the enhancer term of expression.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from epitools.training.metrics import auroc

pytestmark = pytest.mark.slow
WINDOW = 256


@pytest.fixture(scope="module")
def scored(tmp_path_factory, repo_root):
    import torch

    from epitools.data.gene_dataset import GeneDataset
    from epitools.data.gene_store import build_gene_store
    from epitools.data.pair_store import build_pair_store
    from epitools.data.simulate import SimulationConfig, simulate
    from epitools.data.windows import centred_windows
    from epitools.io.checkpoint import make_checkpoint, save_checkpoint
    from epitools.io.genome import Genome
    from epitools.models.epinformer import EPInformer, pretrain_sequence_encoder
    from epitools.training.loop import TrainConfig, train
    from epitools.variants.run import score_variants

    root = tmp_path_factory.mktemp("variants_acceptance")
    sim = root / "sim"
    cfg = SimulationConfig.tiny(n_chroms=8, chrom_size=1_000_000, n_genes=800, negatives_per_positive=2,
                                noise=0.0, motif_copies=3, inactive_fraction=0.3)
    simulate(sim, seed=1, config=cfg)
    build_pair_store(sim / "pairs.tsv", root / "store.h5", sim / "genome.fa", enhancer_length=WINDOW,
                     promoter_length=WINDOW)
    result = train(TrainConfig(data=str(root / "store.h5"), model="simcnn", out=str(root / "run"), split="chrom",
                               folds=8, fold=1, epochs=12, batch_size=32, lr=2e-3, patience=16, seed=0,
                               hparams=dict(filters=64, kernel=11, pool=64, dense=64, dropout=0.0)))
    build_gene_store(sim / "genes.tsv", sim / "elements.bed", sim / "genome.fa", root / "genes.h5",
                     hic=sim / "hic.cool", promoter_length=WINDOW, enhancer_length=WINDOW)
    elements = pd.read_csv(sim / "elements.bed", sep="\t", header=None,
                           names=["chrom", "start", "end", "name", "dnase", "h3k27ac"])
    with Genome(sim / "genome.fa") as genome:
        codes = centred_windows(genome, elements["chrom"], elements["start"], elements["end"], WINDOW)[0]
    encoder = pretrain_sequence_encoder(codes, np.log(np.sqrt(elements["dnase"] * elements["h3k27ac"])),
                                        epochs=6, batch_size=64, seed=0)
    spec = importlib.util.spec_from_file_location("prioritize_drivers", repo_root / "bench" / "prioritize_drivers.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    torch.manual_seed(0)
    model = EPInformer(WINDOW, WINDOW, variant="PE")
    model.load_sequence_encoder(encoder)
    cache = bench.embed_all(model, GeneDataset(root / "genes.h5"))
    rows = np.flatnonzero(np.isfinite(cache["expression"].numpy()))
    np.random.default_rng(0).shuffle(rows)
    bench.train_cached(model, cache, rows[len(rows) // 8:], rows[:len(rows) // 8], epochs=60, batch_size=16,
                       patience=10, lr=1e-3, seed=0)
    save_checkpoint(make_checkpoint(model.eval(), "epinformer", "onehot"), root / "epi" / "model.pt")
    score_variants(sim / "variants.vcf.gz", sim / "genome.fa", [root / "run" / "model.pt", root / "epi" / "model.pt"],
                   root / "out", pairs_path=sim / "pairs.tsv", gene_store=root / "genes.h5", n_null=200, device="cpu")
    truth = pd.DataFrame(json.loads((sim / "truth.json").read_text())["variants"])
    effects = pd.read_csv(root / "out" / "effects.tsv", sep="\t")
    pairs = pd.read_csv(sim / "pairs.tsv", sep="\t")
    return {"result": result, "truth": truth, "effects": effects, "pairs": pairs,
            "summary": pd.read_csv(root / "out" / "summary.tsv", sep="\t")}


def _metrics(best: pd.DataFrame, column: str) -> tuple[float, float]:
    best = best[best["class"].isin(["motif_breaking", "neutral"])]
    breaking = (best["class"] == "motif_breaking").to_numpy()
    return auroc(breaking, best[column].abs().to_numpy()), float((best.loc[breaking, column] < 0).mean())


def test_pair_model_ranks_motif_breaking_variants(scored):
    assert scored["result"]["auroc"] > 0.9
    e = scored["effects"]
    e = e[(e["status"] == "scored") & e["model"].str.startswith("simcnn")].copy()
    e["label"] = scored["pairs"]["label"].to_numpy()[e["pair_index"].astype(int)]
    e = e.merge(scored["truth"][["id", "class", "element"]].rename(columns={"id": "variant_id", "element": "planted"}),
                on="variant_id")
    interacting = e[(e["label"] == 1) & (e["element"] == e["planted"])]
    best = interacting.loc[interacting.groupby("variant_id")["delta_logit"].apply(lambda s: s.abs().idxmax())]
    area, negative = _metrics(best, "delta_logit")
    assert area >= 0.9 and negative >= 0.9, (area, negative)


@pytest.mark.xfail(strict=True, reason="issue 20, open: this simulation's drivers are drawn, not in sequence, so "
                   "EPInformer-PE cannot learn expression from it (validation MSE at the variance) and its Δ "
                   "are noise; the pre-trained encoder does see the SNVs (module docstring)")
def test_epinformer_ranks_motif_breaking_variants(scored):
    e = scored["effects"]
    e = e[(e["status"] == "scored") & e["model"].str.startswith("epinformer")]
    truth = scored["truth"].rename(columns={"id": "variant_id", "element": "planted"})
    e = e.merge(truth[["variant_id", "class", "planted", "genes"]], on="variant_id")
    driven = e[(e["planted"] == "enhancer") & (e["element"] == "enhancer")
               & np.array([g in str(genes).split(",") for g, genes in zip(e["gene"], e["genes"])])]
    best = driven.loc[driven.groupby("variant_id")["delta"].apply(lambda s: s.abs().idxmax())]
    area, negative = _metrics(best, "delta")
    assert area >= 0.9 and negative >= 0.9, (area, negative)


def test_outside_variants_are_not_scored(scored):
    outside = set(scored["truth"].loc[scored["truth"]["class"] == "outside", "id"])
    rows = scored["summary"][scored["summary"]["variant_id"].isin(outside)]
    assert len(rows) and (rows["status"] == "not_scored_outside_windows").all() and rows["effect"].isna().all()
