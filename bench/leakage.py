"""Split leakage on simulated data: one model, three splits, three test AUROCs.

Simulates a data set (``epi-simulate`` presets), encodes it, and trains the same model with
the overlap-aware random split (pairs sharing or overlapping windows stay together), the
naive random split (they do not) and the chromosome split. The naive split lets the model
recognise test windows it saw in training, so its AUROC is the optimistic one. Prints one
JSON line.

    python bench/leakage.py [--model epiann] [--preset quick] [--epochs 8] [--window 256]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from epitools.data.simulate import SimulationConfig, simulate
from epitools.training.loop import TrainConfig, train

# Small-window hyperparameters so every model trains in minutes on a CPU; paper values
# otherwise (use --paper to keep the paper's architectures and windows as given).
SMALL_HPARAMS = {
    "epipam": {"filters": 32, "kernels": (11, 5, 3), "pools": (4, 4, 4), "hidden": 32, "dropout": 0.0,
               "head_dropout": 0.1, "weight_decay": 1e-5},
    "epipam_kmer": {"k": 4, "embedding_dim": 16, "filters": 32, "kernels": (11, 5, 3), "pools": (4, 4, 4),
                    "hidden": 32, "weight_decay": 1e-5},
    "simcnn": {"filters": 64, "kernel": 11, "pool": 8, "dense": 64},
    "epiann": {"filters": 64, "kernel": 11, "pool": 8},
    "epipdlf": {"k": 4, "embedding_dim": 16, "filters": 32, "kernel": 9, "pool": 4, "gru_hidden": 16,
                "branch_dim": 32, "hidden": 32},
}

# A clean planted grammar with enough pairs (~2,600) to learn from in a few epochs: 8
# chromosomes of 1 Mb, 800 genes, 1:2 negatives, no decoy motifs, 3 strong copies per element.
QUICK_SET = {"n_chroms": 8, "n_genes": 800, "chrom_size": 1_000_000, "negatives_per_positive": 2,
             "noise": 0.0, "motif_copies": 3, "motif_strength": 3.0}


def prepare_data(workdir, preset: str = "small", seed: int = 0, enhancer_length: int = 256,
                 promoter_length: int = 256, kmer_k: int = 4, **overrides) -> dict:
    """Simulate a data set and encode it one-hot and as k-mers; returns the store paths.

    A ``workdir`` that already holds the stores of the same arguments is reused, so models can
    be trained one call at a time on the same data.
    """
    from epitools.cli.encode import main as encode

    workdir = Path(workdir)
    stamp = workdir / "data.json"
    spec = {"preset": preset, "seed": seed, "enhancer_length": enhancer_length,
            "promoter_length": promoter_length, "kmer_k": kmer_k, "overrides": overrides}
    stores = {encoding: str(workdir / f"pairs_{encoding}.h5") for encoding in ("onehot", "kmer")}
    if stamp.is_file() and json.loads(stamp.read_text()) == spec and all(map(os.path.isfile, stores.values())):
        return stores
    stamp.unlink(missing_ok=True)
    sim = workdir / "sim"
    simulate(sim, seed=seed, config=SimulationConfig.preset(preset, **overrides), overwrite=True)
    for encoding, extra in (("onehot", []), ("kmer", ["--k", str(kmer_k)])):
        encode.main(["--pairs", str(sim / "pairs.tsv"), "--genome", str(sim / "genome.fa"),
                     "--enhancer-length", str(enhancer_length), "--promoter-length", str(promoter_length),
                     "--encoding", encoding, *extra, "-q", "-o", stores[encoding]],
                    standalone_mode=False)
    stamp.write_text(json.dumps(spec))
    return stores


def store_for(model: str, stores: dict) -> str:
    from epitools.models.registry import get_model_class

    return stores[get_model_class(model).encoding]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="epiann")
    parser.add_argument("--preset", default="quick", choices=["quick", "tiny", "small", "medium", "default"],
                        help="quick: the clean ~2,600-pair set above; others: epi-simulate presets")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--window", type=int, default=256, help="enhancer and promoter window (bp)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="keep data and runs here (default: a temporary directory)")
    parser.add_argument("--paper", action="store_true", help="paper hyperparameters (needs long windows)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        preset, overrides = ("tiny", QUICK_SET) if args.preset == "quick" else (args.preset, {})
        stores = prepare_data(work, preset, args.seed, args.window, args.window, **overrides)
        hparams = {} if args.paper else SMALL_HPARAMS.get(args.model, {})
        result = {"bench": "leakage", "model": args.model, "preset": args.preset, "epochs": args.epochs,
                  "threads": torch.get_num_threads()}
        for split in ("random", "naive", "chrom"):
            metrics = train(TrainConfig(data=store_for(args.model, stores), model=args.model,
                                        out=str(work / f"run_{split}"), split=split, folds=args.folds, fold=1,
                                        epochs=args.epochs, patience=args.epochs, seed=args.seed,
                                        hparams=hparams, batch_size=32, lr=None if args.paper else 2e-3))
            result[f"auroc_{'overlap_aware' if split == 'random' else split}"] = metrics["auroc"]
        result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
