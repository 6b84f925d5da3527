"""Driver-enhancer recovery of EPInformer on simulated data (issue 7 acceptance).

Simulates a data set with planted driver enhancers (``epi-simulate``), builds the gene-level
store, trains EPInformer-PE-Activity-HiC with whole chromosomes held out (``epi-train``'s
loop), one model per held-out fold (``--folds``), then scores every candidate enhancer of the
held-out genes and prints one JSON line, pooled over the folds' genes (and per fold):

* ``pearson_r``: expression prediction on the held-out chromosomes (target >= 0.8);
* ``auprc``: recovery of the planted drivers among all candidates by attention-ABC, ABC,
  attention, knockout and distance (target: attention-ABC >= ABC > distance);
* ``knockout_effect_r``: Pearson R of the predicted knockout drop and the planted effect
  over the held-out drivers (target >= 0.8).

On a CPU the default mode freezes the sequence branch at its random initialisation and caches
its element embeddings (the planted signal is in activity and contact; training the residual
encoder on ~24k windows per epoch takes minutes per epoch on a laptop). ``--trainer`` trains
the whole model with epi-train's loop instead; with ``--window 2000`` that is the paper's
geometry, for a GPU.

    python bench/prioritize_drivers.py [--preset medium] [--folds 1,2,3,4] [--epochs 120] [--trainer]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Parameters computed from sequence alone: frozen (and cached) in the CPU mode of this bench.
SEQUENCE_BRANCH = ("sequence_encoder", "dilated", "positions")


def embed_all(model, dataset, batch_size: int = 32) -> dict:
    """Cached EPInformer inputs of every gene: element embeddings from the (frozen) sequence branch."""
    import torch

    model.eval()
    parts = []
    with torch.no_grad():
        for lo in range(0, len(dataset), batch_size):
            b = dataset.batch(np.arange(lo, min(lo + batch_size, len(dataset))))
            parts.append({"e": model.embed_enhancer(b["enhancers"], b["enhancer_mask"]),
                          "p": model.embed_promoter(b["promoter"]), "mask": b["enhancer_mask"],
                          "features": b["features"], "gene_features": b["gene_features"],
                          "expression": b["expression"]})
    return {k: torch.cat([part[k] for part in parts]) for k in parts[0]}


def train_cached(model, cache: dict, train_rows, val_rows, *, epochs: int, batch_size: int,
                 patience: int, lr, seed: int) -> list[dict]:
    """Train the fusion, interaction and predictor layers on cached element embeddings
    (the sequence branch stays frozen), keeping the epoch of lowest validation MSE."""
    import copy

    import torch

    for name, param in model.named_parameters():
        param.requires_grad_(not name.startswith(SEQUENCE_BRANCH))
    optimizer = model.configure_optimizer(lr=lr)
    generator = torch.Generator().manual_seed(seed)

    def run(rows):
        return model.forward_embedded(cache["e"][rows], cache["p"][rows], enhancer_mask=cache["mask"][rows],
                                      features=cache["features"][rows],
                                      gene_features=cache["gene_features"][rows])

    train_rows, val_rows = torch.as_tensor(train_rows), torch.as_tensor(val_rows)
    best, best_state, history, waited = float("inf"), None, [], 0
    for epoch in range(epochs):
        model.train()
        for chunk in train_rows[torch.randperm(len(train_rows), generator=generator)].split(batch_size):
            loss = model.loss(run(chunk), {"expression": cache["expression"][chunk]})
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_mse = float(((run(val_rows)["prediction"] - cache["expression"][val_rows]) ** 2).mean())
        history.append({"epoch": epoch + 1, "val_mse": round(val_mse, 4)})
        if val_mse < best:
            best, best_state, waited = val_mse, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    return history


def held_out_scores(args, fold: int, store: Path, work: Path) -> tuple[pd.DataFrame, float]:
    """Train on the other chromosome folds; score every candidate of fold ``fold``'s genes.

    Returns the :func:`score_genes` table of the held-out genes and their expression Pearson R.
    """
    import torch

    from epitools.data.gene_dataset import GeneDataset
    from epitools.io.checkpoint import load_checkpoint
    from epitools.models.registry import model_from_checkpoint
    from epitools.models.epinformer import EPInformer
    from epitools.prioritize.scores import score_genes
    from epitools.training.loop import TrainConfig, train
    from epitools.training.metrics import pearson_r
    from epitools.training.sources import GeneSource

    run = work / f"epinformer_fold{fold}"
    config = TrainConfig(data=str(store), model="epinformer", out=str(run), split="chrom",
                         fold=fold, seed=args.seed, epochs=args.epochs, patience=args.patience,
                         device=args.device, batch_size=args.batch_size, lr=args.lr,
                         hparams={"variant": "PE-Activity-HiC"})
    if args.trainer:
        pearson = float(train(config)["pearson_r"])
        model = model_from_checkpoint(load_checkpoint(run / "model.pt"))
        test_genes = pd.read_csv(run / "predictions.tsv", sep="\t")["gene"].tolist()
    else:
        source = GeneSource(str(store))
        split = source.split(config)
        keep = np.isfinite(source.expression)
        rows = {k: np.asarray(getattr(split, k))[keep[np.asarray(getattr(split, k))]]
                for k in ("train", "val", "test")}
        torch.manual_seed(args.seed)
        model = EPInformer(args.window, args.window, variant="PE-Activity-HiC")
        cache = embed_all(model, GeneDataset(store))
        train_cached(model, cache, rows["train"], rows["val"], epochs=args.epochs,
                     batch_size=args.batch_size, patience=args.patience, lr=args.lr, seed=args.seed)
        model.eval()
        with torch.no_grad():
            t = torch.as_tensor(rows["test"])
            prediction = model.forward_embedded(
                cache["e"][t], cache["p"][t], enhancer_mask=cache["mask"][t],
                features=cache["features"][t], gene_features=cache["gene_features"][t])["prediction"]
        pearson = pearson_r(cache["expression"][t].numpy(), prediction.numpy())
        test_genes = source.table["gene"].to_numpy()[rows["test"]].tolist()
        source.close()
    return score_genes(model, store, genes=test_genes, batch_size=16), float(pearson)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="medium", help="epi-simulate preset (tiny, small, medium, default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=int, default=64, help="promoter/enhancer window (bp)")
    parser.add_argument("--epochs", type=int, default=120, help="most epochs (early stopping on val MSE)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="genes per step (the paper's 64 gives too few steps on ~400 genes)")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="AdamW learning rate (the paper's 5e-4 needs more epochs here)")
    parser.add_argument("--trainer", action="store_true",
                        help="train the whole model with epi-train's loop (slow on CPU; use on a GPU); "
                             "by default the sequence branch is frozen and its embeddings cached")
    parser.add_argument("--patience", type=int, default=15, help="epochs without val-MSE gain before stopping")
    parser.add_argument("--folds", default="1,2,3,4",
                        help="held-out chromosome folds (of 12), one model each; metrics pool their genes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workdir", help="keep the simulation, store and runs here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    import torch

    from epitools.data.gene_store import build_gene_store
    from epitools.data.simulate import SimulationConfig, simulate
    from epitools.prioritize.scores import driver_recovery, planted_drivers
    from epitools.training.metrics import pearson_r

    torch.set_num_threads(max(1, torch.get_num_threads()))
    folds = [int(f) for f in args.folds.split(",")]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        sim = work / f"sim_{args.preset}_{args.seed}"
        if not (sim / "truth.json").exists():
            simulate(sim, seed=args.seed, config=SimulationConfig.preset(args.preset), overwrite=True)
        store = work / f"genes_{args.preset}_{args.seed}_{args.window}.h5"
        if not store.exists():
            # epi-simulate writes TPM-like expression; planted effects are in log1p space.
            build_gene_store(sim / "genes.tsv", sim / "elements.bed", sim / "genome.fa", store,
                             hic=sim / "hic.cool", promoter_length=args.window,
                             enhancer_length=args.window)
        drivers = planted_drivers(json.loads((sim / "truth.json").read_text()))
        tables, per_fold = [], []
        for fold in folds:
            scores, pearson = held_out_scores(args, fold, store, work / f"seed{args.seed}")
            recovery = driver_recovery(scores, drivers)
            per_fold.append({"fold": fold, "n_test_genes": int(scores["gene"].nunique()),
                             "pearson_r": round(pearson, 4), "auprc": recovery["auprc"],
                             "knockout_effect_r": recovery["knockout_effect_r"]})
            tables.append(scores)
        scores = pd.concat(tables, ignore_index=True)
        genes = scores.drop_duplicates("gene")
        result = {"bench": "prioritize_drivers", "preset": args.preset, "seed": args.seed,
                  "window": args.window, "folds": folds, "epochs": args.epochs,
                  "mode": "epi-train loop" if args.trainer else "frozen cached sequence branch",
                  "n_test_genes": int(len(genes)),
                  "pearson_r": round(pearson_r(genes["expression"].to_numpy(), genes["prediction"].to_numpy()), 4),
                  **driver_recovery(scores, drivers), "per_fold": per_fold}
        auprc = result["auprc"]
        result["accepted"] = bool(result["pearson_r"] >= 0.8
                                  and auprc["attention_abc"] >= auprc["abc"] > auprc["distance"]
                                  and result["knockout_effect_r"] >= 0.8)
        result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
