"""Can EPInformer-PE learn expression from a simulation's sequence, and see its variants? (issue 20)

EPInformer's variant effects come only through its sequence branch, so they rest on a model
that learnt expression from sequence. This script simulates the acceptance data set of
``tests/test_variants_acceptance.py`` with motif dosage (``--motif-copies-min 1``), an activity
library and ``--drivers`` (``sampled``, the default simulation, or ``compatible``), then prints
one JSON line:

* ``sequence_ceiling_r``: Pearson R of log1p expression against what sequence, distance and
  half-life tell: promoter copies x the sum over the gene's candidates of its motif family
  (contact by distance x driver boost x intact copies), through the simulator's own formula
  with the activity draws and noise left out. With drawn drivers, sequence cannot say which
  compatible candidates drive;
* ``encoder``: the sequence encoder pre-trained on the library and the elements
  (``--epochs``): AUROC of |Δ predicted activity| of the enhancer SNVs (breaking vs neutral)
  and the fraction of breaking ones with a negative Δ;
* ``expression``: EPInformer-PE on cached embeddings (``bench/prioritize_drivers.train_cached``,
  one gene in eight held out): validation MSE, the variance and Pearson R;
* ``variants``: ``epi-variants``' Δ expression of the enhancer variants on their driven genes:
  AUROC of |Δ|, fraction negative, median |Δ| of breaking and neutral ones.

    OMP_NUM_THREADS=2 python bench/epinformer_variant_effects.py --drivers compatible \\
        [--library 20000 --epochs 5] [--workdir DIR]

About 25 minutes on this 2-core CPU with the defaults (pre-training is 15 of them).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

WINDOW = 256
BENCH = Path(__file__).resolve().parent


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def sequence_ceiling(sim: Path) -> float:
    """Pearson R of log1p expression and its sequence-knowable part (see the module docstring)."""
    from epitools.data.simulate_hic import expected_contact

    truth = json.loads((sim / "truth.json").read_text())
    params, model = truth["parameters"], truth["expression_model"]
    genes = pd.read_csv(sim / "genes.tsv", sep="\t")
    elements = pd.read_csv(sim / "elements.bed", sep="\t", header=None,
                           names=["chrom", "start", "end", "name", "dnase", "h3k27ac"])
    sites = pd.read_csv(sim / "motif_sites.tsv", sep="\t")
    copies = sites[sites["kind"] == "planted"].groupby("element_id").size() / params["motif_copies"]
    family = truth["element_families"]
    elements["family"] = elements["name"].map(family["enhancer"])
    elements["dose"] = elements["name"].map(copies).fillna(0.0)
    centre = ((elements["start"] + elements["end"]) // 2).to_numpy()
    drive = np.zeros(len(genes))
    for i, g in enumerate(genes.itertuples()):
        d = np.abs(centre - g.tss)
        near = ((elements["chrom"] == g.chrom).to_numpy() & (d >= params["min_distance"])
                & (d <= params["max_distance"])
                & (elements["family"] == family["promoter"][g.promoter_id]).to_numpy())
        contact = expected_contact(d[near], params["hic_resolution"], params["hic_alpha"])
        drive[i] = np.sum(contact * (1 + params["hic_enrichment"]) * params["driver_activity_boost"]
                          * elements["dose"].to_numpy()[near])
    half_life = genes[[f"hl_{j}" for j in range(1, 9)]].to_numpy() @ np.asarray(model["half_life_weights"])
    promoter = genes["promoter_id"].map(copies).fillna(0.0).to_numpy()
    known = np.log1p(model["scale"] * np.exp(half_life) * (promoter * drive + model["baseline"]))
    return float(np.corrcoef(known, np.log1p(genes["expression"]))[0, 1])


def variant_metrics(sim: Path, effects_path: Path) -> dict:
    """AUROC of |Δ| and sign of the enhancer variants on the genes they drive."""
    from epitools.training.metrics import auroc

    truth = pd.DataFrame(json.loads((sim / "truth.json").read_text())["variants"])
    truth = truth.rename(columns={"id": "variant_id", "element": "planted"})
    e = pd.read_csv(effects_path, sep="\t")
    e = e[(e["status"] == "scored") & e["model"].str.startswith("epinformer")]
    e = e.merge(truth[["variant_id", "class", "planted", "genes"]], on="variant_id")
    driven = e[(e["planted"] == "enhancer") & (e["element"] == "enhancer")
               & np.array([g in str(genes).split(",") for g, genes in zip(e["gene"], e["genes"])])]
    best = driven.loc[driven.groupby("variant_id")["delta"].apply(lambda s: s.abs().idxmax())]
    best = best[best["class"].isin(["motif_breaking", "neutral"])]
    breaking = (best["class"] == "motif_breaking").to_numpy()
    delta = best["delta"].to_numpy()
    return {"breaking": int(breaking.sum()), "neutral": int((~breaking).sum()),
            "auroc_abs_delta": round(float(auroc(breaking, np.abs(delta))), 3),
            "breaking_negative": round(float((delta[breaking] < 0).mean()), 3),
            "median_abs_delta_breaking": float(np.median(np.abs(delta[breaking]))),
            "median_abs_delta_neutral": float(np.median(np.abs(delta[~breaking])))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drivers", choices=("sampled", "compatible"), default="compatible")
    parser.add_argument("--library", type=int, default=20000, help="activity-library windows to pre-train on")
    parser.add_argument("--epochs", type=int, default=5, help="encoder pre-training epochs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)

    import torch

    from epitools.data.gene_dataset import GeneDataset
    from epitools.data.gene_store import build_gene_store
    from epitools.data.simulate import SimulationConfig, simulate
    from epitools.io.checkpoint import make_checkpoint, save_checkpoint
    from epitools.models.epinformer import EPInformer, pretrain_sequence_encoder
    from epitools.training.metrics import auroc
    from epitools.variants.run import score_variants

    encoder_bench, drivers_bench = _bench_module("variant_encoder"), _bench_module("prioritize_drivers")
    result = {"drivers": args.drivers, "library": args.library, "epochs": args.epochs}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        sim = work / "sim"
        config = SimulationConfig.tiny(n_chroms=8, chrom_size=1_000_000, n_genes=800, negatives_per_positive=2,
                                       noise=0.0, motif_copies=3, inactive_fraction=0.3, motif_copies_min=1,
                                       drivers=args.drivers, activity_library=args.library)
        simulate(sim, seed=args.seed, config=config, overwrite=True)
        result["sequence_ceiling_r"] = round(sequence_ceiling(sim), 3)

        elements, codes, window_start, activity = encoder_bench._windows(sim)
        t0 = time.perf_counter()
        if args.library:
            _, library_codes, _, library_activity = encoder_bench._windows(sim, "activity_library",
                                                                           "activity_library.fa")
            codes_all = np.concatenate([library_codes, codes])
            activity_all = np.concatenate([library_activity, activity])
        else:
            codes_all, activity_all = codes, activity
        encoder = pretrain_sequence_encoder(codes_all, activity_all, epochs=args.epochs,
                                            batch_size=128 if args.library else 64, seed=0)
        delta, breaking = encoder_bench.snv_effects(encoder, sim, elements, codes, window_start)
        result["encoder"] = {"seconds": round(time.perf_counter() - t0, 1),
                             "auroc_abs_delta": round(float(auroc(breaking, np.abs(delta))), 3),
                             "breaking_negative": round(float((delta[breaking] < 0).mean()), 3)}

        build_gene_store(sim / "genes.tsv", sim / "elements.bed", sim / "genome.fa", work / "genes.h5",
                         hic=sim / "hic.cool", promoter_length=WINDOW, enhancer_length=WINDOW)
        torch.manual_seed(0)
        model = EPInformer(WINDOW, WINDOW, variant="PE")
        model.load_sequence_encoder(encoder)
        cache = drivers_bench.embed_all(model, GeneDataset(work / "genes.h5"))
        expression = cache["expression"].numpy()
        rows = np.flatnonzero(np.isfinite(expression))
        np.random.default_rng(0).shuffle(rows)
        val, train_rows = rows[:len(rows) // 8], rows[len(rows) // 8:]
        history = drivers_bench.train_cached(model, cache, train_rows, val, epochs=60, batch_size=16,
                                             patience=10, lr=1e-3, seed=0)
        model.eval()
        with torch.no_grad():
            predicted = model.forward_embedded(cache["e"][val], cache["p"][val], enhancer_mask=cache["mask"][val],
                                               features=cache["features"][val],
                                               gene_features=cache["gene_features"][val])["prediction"].numpy()
        result["expression"] = {"train_genes": len(train_rows), "epochs": len(history),
                                "val_mse": min(h["val_mse"] for h in history),
                                "val_variance": round(float(expression[val].var()), 4),
                                "val_r": round(float(np.corrcoef(predicted, expression[val])[0, 1]), 3)}

        checkpoint = work / "epinformer" / "model.pt"
        save_checkpoint(make_checkpoint(model, "epinformer", "onehot"), checkpoint)
        score_variants(sim / "variants.vcf.gz", sim / "genome.fa", [checkpoint], work / "variants",
                       gene_store=work / "genes.h5", n_null=50, device="cpu")
        result["variants"] = variant_metrics(sim, work / "variants" / "effects.tsv")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
