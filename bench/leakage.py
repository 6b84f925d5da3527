"""Split leakage: how much a random split of real EPI pair sets leaks, and what it buys.

``--real`` (the default when ``../shared/data`` is present): on every BENGI and Hi-C-loop pair
set in ``../shared/data/epi_pairs/`` (12 files), for the naive random split (single pairs),
the overlap-aware random split (pairs sharing or overlapping windows stay together) and the
chromosome split of :mod:`epitools.data.splits`, over all ``--folds`` folds:

* the test fraction of each fold;
* the share of test pairs that share an element (the same enhancer or the same promoter
  coordinates) with a pair outside the test fold;
* AUROC / AUPRC of a predictor that sees no sequence at all: a test pair's score is the mean
  training label of the pairs sharing its enhancer or promoter (the training base rate when
  it shares none). Averaged over folds.

Prints one JSON line per file and split, then a markdown table.

    python bench/leakage.py --real [--folds 5] [--seed 0] [--data ../shared/data]

``--simulated``: the older experiment on simulated data, one model trained with the three
splits (``--model epiann --preset quick --epochs 8 --window 256``); prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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
    from epitools.data.simulate import SimulationConfig, simulate

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
        encode.main(["pairs", "--pairs", str(sim / "pairs.tsv"), "--genome", str(sim / "genome.fa"),
                     "--enhancer-length", str(enhancer_length), "--promoter-length", str(promoter_length),
                     "--encoding", encoding, *extra, "-q", "-o", stores[encoding]],
                    standalone_mode=False)
    stamp.write_text(json.dumps(spec))
    return stores


def store_for(model: str, stores: dict) -> str:
    from epitools.models.registry import get_model_class

    return stores[get_model_class(model).encoding]


def run_simulated(args) -> None:
    """Train one model with the overlap-aware, naive and chromosome splits; print one JSON line."""
    import torch

    from epitools.training.loop import TrainConfig, train

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


# -- real pair sets ---------------------------------------------------------------------------
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_SETS = ("epi_pairs/BENGI_hg19/*.tsv.gz", "epi_pairs/HiC_loops_hg19/*.tsv.gz")
#: split scheme of epitools.data.splits -> name in the output
REAL_SPLITS = {"naive": "naive random", "random": "overlap-aware random", "chrom": "chromosome"}


def element_keys(table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer ids of each pair's enhancer, promoter and (enhancer, promoter), shape (n,) each."""
    import pandas as pd

    def ids(columns):
        return pd.MultiIndex.from_frame(table[list(columns)]).factorize()[0] if len(columns) > 1 else None

    enh = ("enhancer_chrom", "enhancer_start", "enhancer_end")
    prom = ("promoter_chrom", "promoter_start", "promoter_end")
    return ids(enh), ids(prom), ids(enh + prom)


def lookup_scores(keys, labels, train, test) -> tuple[np.ndarray, np.ndarray]:
    """Label-lookup predictor and shared-element flag of the ``test`` rows.

    Score: the mean training label over training pairs that share the test pair's enhancer or
    promoter (union; a training pair sharing both counts once), else the training base rate.

    Returns
    -------
    scores : float64 (len(test),)
    shared : bool (len(test),)
    """
    enh, prom, both = keys
    y = labels[train]

    def sums(key):
        size = int(key.max()) + 1
        return (np.bincount(key[train], weights=y, minlength=size)[key[test]],
                np.bincount(key[train], minlength=size)[key[test]])

    (se, ne), (sp, np_), (sb, nb) = sums(enh), sums(prom), sums(both)
    count = ne + np_ - nb
    total = se + sp - sb
    shared = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(shared, total / np.maximum(count, 1), y.mean())
    return scores, shared


def measure_split(table, keys, scheme: str, folds: int, seed: int) -> dict:
    """Test fractions, shared-element share and lookup AUROC/AUPRC over every fold of a split."""
    from epitools.data.splits import make_split
    from epitools.training.metrics import classification_metrics

    labels = table["label"].to_numpy(np.float64)
    n = len(table)
    fractions, aurocs, auprcs, shared_total, tested = [], [], [], 0, 0
    for fold in range(1, folds + 1):
        split = make_split(table, scheme, n_folds=folds, fold=fold, seed=seed)
        test = split.test
        train = np.setdiff1d(np.arange(n), test)  # validation rows are training data to a lookup
        scores, shared = lookup_scores(keys, labels, train, test)
        fractions.append(test.size / n)
        shared_total += int(shared.sum())
        tested += test.size
        m = classification_metrics(labels[test], scores)
        aurocs.append(m["auroc"])
        auprcs.append(m["auprc"])
    return {"split": REAL_SPLITS[scheme], "scheme": scheme, "folds": folds,
            "test_fraction": [round(f, 4) for f in fractions],
            "shared_element_share": round(shared_total / max(tested, 1), 4),
            "lookup_auroc": round(float(np.nanmean(aurocs)), 4),
            "lookup_auprc": round(float(np.nanmean(auprcs)), 4)}


def markdown_table(rows: list[dict]) -> str:
    """The real-data results as a markdown table: one row per pair set, the splits side by side.

    Each split shows the test fractions of its folds (min–max), the share of test pairs sharing
    an element with a training pair, and the lookup predictor's AUROC / AUPRC.
    """
    head = "| pair set | pairs (positives) |"
    rule = "|---|---:|"
    for name in REAL_SPLITS.values():
        head += f" {name}: test fraction | shared | AUROC / AUPRC |"
        rule += "---|---:|---|"
    lines = [head, rule]
    by_file: dict[str, list[dict]] = {}
    for r in rows:
        by_file.setdefault(r["file"], []).append(r)
    for name, parts in by_file.items():
        line = f"| {name} | {parts[0]['pairs']:,} ({parts[0]['positives']:,}) |"
        for r in sorted(parts, key=lambda r: list(REAL_SPLITS).index(r["scheme"])):
            lo, hi = min(r["test_fraction"]), max(r["test_fraction"])
            line += (f" {lo:.2f}–{hi:.2f} | {100 * r['shared_element_share']:.1f} % | "
                     f"{r['lookup_auroc']:.2f} / {r['lookup_auprc']:.2f} |")
        lines.append(line)
    return "\n".join(lines)


def run_real(args) -> None:
    from epitools.io.pairs import read_pairs

    data = Path(args.data)
    files = sorted(p for pattern in REAL_SETS for p in data.glob(pattern))
    if not files:
        raise SystemExit(f"no BENGI or Hi-C-loop pair sets under {data}/epi_pairs")
    rows = []
    for path in files:
        table = read_pairs(path)
        keys = element_keys(table)
        name = path.name.removesuffix(".tsv.gz")
        for scheme in REAL_SPLITS:
            t0 = time.perf_counter()
            row = {"bench": "leakage_real", "file": name, "pairs": len(table),
                   "positives": int(table["label"].sum()),
                   "positive_rate": round(float(table["label"].mean()), 4),
                   **measure_split(table, keys, scheme, args.folds, args.seed),
                   "seconds": round(time.perf_counter() - t0, 2)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print()
    print(markdown_table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--real", action="store_true", default=None,
                      help="real BENGI / Hi-C-loop pair sets (default when --data exists)")
    mode.add_argument("--simulated", action="store_true", help="train on simulated data instead")
    parser.add_argument("--data", default=str(SHARED_DATA), help="the shared data folder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="epiann", help="(simulated) model to train")
    parser.add_argument("--preset", default="quick", choices=["quick", "tiny", "small", "medium", "default"],
                        help="(simulated) quick: the clean ~2,600-pair set above; others: epi-simulate presets")
    parser.add_argument("--epochs", type=int, default=8, help="(simulated)")
    parser.add_argument("--window", type=int, default=256, help="(simulated) enhancer and promoter window (bp)")
    parser.add_argument("--workdir", help="(simulated) keep data and runs here (default: a temporary directory)")
    parser.add_argument("--paper", action="store_true", help="(simulated) paper hyperparameters (long windows)")
    args = parser.parse_args()
    real = args.real if args.real is not None else (not args.simulated and Path(args.data).is_dir())
    if real:
        run_real(args)
    else:
        if not args.simulated:
            print(f"# {args.data} not found: running the simulated experiment", file=sys.stderr)
        run_simulated(args)


if __name__ == "__main__":
    main()
