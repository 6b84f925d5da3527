"""Attribution throughput on EPIPAM windows: sequences/s for DeepLIFT/SHAP and ISM.

Builds an EPIPAM with the paper's architecture (random weights: speed does not depend on
training), a tiny pair store of random windows, and times ``attribute_pairs`` for each
method. Prints one JSON line.

    python bench/attribute_throughput.py [--n 16] [--enhancer-length 3000] [--promoter-length 2000]
                                         [--n-shuffles 20] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from epitools.interpret.attribution import attribute_pairs
from epitools.io.store import StoreWriter
from epitools.models.registry import build_model


def _store(path: Path, n: int, le: int, lp: int) -> None:
    rng = np.random.default_rng(0)
    rows = {"enhancer": rng.integers(0, 4, (n, le), dtype=np.uint8),
            "promoter": rng.integers(0, 4, (n, lp), dtype=np.uint8),
            "label": np.ones(n, np.int8), "pair_id": np.array([f"p{i}" for i in range(n)], dtype=object),
            "source_row": np.arange(n), "enhancer_shift": np.zeros(n, np.int32),
            "promoter_shift": np.zeros(n, np.int32), "reverse_complement": np.zeros(n, bool),
            "enhancer_element": np.tile([0, le], (n, 1)).astype(np.int32),
            "promoter_element": np.tile([0, lp], (n, 1)).astype(np.int32)}
    start = np.arange(n) * 10_000
    pairs = pd.DataFrame({"enhancer_chrom": "chr1", "enhancer_start": start, "enhancer_end": start + le,
                          "promoter_chrom": "chr1", "promoter_start": start + 5000,
                          "promoter_end": start + 5000 + lp, "cell_type": "B"})
    with h5py.File(path, "w") as h5:
        StoreWriter(h5, {"encoding": "onehot", "k": 0, "enhancer_length": le,
                         "promoter_length": lp}).append(rows, pairs)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="sequences per method")
    parser.add_argument("--enhancer-length", type=int, default=3000)
    parser.add_argument("--promoter-length", type=int, default=2000)
    parser.add_argument("--n-shuffles", type=int, default=20)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    torch.manual_seed(0)
    model = build_model("epipam", enhancer_length=args.enhancer_length,
                        promoter_length=args.promoter_length).eval()
    figures = {"benchmark": "attribute_throughput", "model": "epipam", "device": device,
               "enhancer_length": args.enhancer_length, "promoter_length": args.promoter_length,
               "n": args.n, "n_shuffles": args.n_shuffles, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.h5"
        _store(store, args.n, args.enhancer_length, args.promoter_length)
        for method in ("deep_lift_shap", "ism"):
            t0 = time.perf_counter()
            attribute_pairs(model, store, method=method, n_shuffles=args.n_shuffles, rows="all",
                            device=device, batch_size=64 if method == "deep_lift_shap" else 128)
            seconds = time.perf_counter() - t0
            figures[f"{method}_seconds"] = round(seconds, 3)
            figures[f"{method}_seq_per_s"] = round(args.n / seconds, 3)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
