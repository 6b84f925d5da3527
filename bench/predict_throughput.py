"""Prediction throughput with and without the element cache.

A candidate set of ``--elements`` (50) enhancers × 50 promoters in which every element
appears in ``--pairs-per-element`` pairs (default 20: each enhancer is paired with 20
promoters and each promoter with 20 enhancers) is scored by each pair model (random weights,
eval mode) through :func:`epitools.training.predict.score_pairs` with the cache on and off.
Reports pairs/s of both, the speed-up and the largest score difference. Prints one JSON line.
Use enough distinct elements to fill the embedding batches: with only a handful, the fixed
cost of a batch (e.g. EPIPDLF's sequential GRU steps) hides the saving.

    python bench/predict_throughput.py [--models epipdlf] [--elements 20] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from epitools.models.registry import available_models, get_model_class
from epitools.training.predict import score_pairs
from epitools.training.device import resolve_device


def candidate_set(n_elements: int, per_element: int, seed: int = 0):
    """(enhancer index, promoter index) of pairs where each element appears ``per_element`` times."""
    per_element = min(per_element, n_elements)
    e = np.repeat(np.arange(n_elements), per_element)
    p = (e + np.tile(np.arange(per_element), n_elements)) % n_elements  # a band of width per_element
    order = np.random.default_rng(seed).permutation(e.size)  # no help from input order
    return e[order], p[order]


def element_inputs(model, n: int, length: int, rng) -> np.ndarray:
    codes = rng.integers(0, 4, size=(n, length), dtype=np.uint8)
    if model.encoding == "kmer":
        from epitools.data.encoding import kmer_ids

        return kmer_ids(codes, model.hparams["k"])
    return codes


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def bench_model(name, device, args) -> dict:
    torch.manual_seed(0)
    model = get_model_class(name)(enhancer_length=args.enhancer_length,
                                  promoter_length=args.promoter_length).to(device).eval()
    rng = np.random.default_rng(1)
    enh = element_inputs(model, args.elements, args.enhancer_length, rng)
    pro = element_inputs(model, args.elements, args.promoter_length, rng)
    ei, pi = candidate_set(args.elements, args.pairs_per_element)
    e_rows, p_rows = enh[ei], pro[pi]
    run = lambda cache: score_pairs(model, e_rows, p_rows, model.encoding, device,  # noqa: E731
                                    args.batch_size, element_cache=cache)
    run(True)  # warm-up (cudnn autotuning, allocator)
    cached, t_cache = timed(lambda: run(True))
    plain, t_plain = timed(lambda: run(False))
    return {"pairs": int(ei.size), "distinct_enhancers": int(np.unique(ei).size),
            "distinct_promoters": int(np.unique(pi).size),
            "pairs_per_s_cache": round(ei.size / t_cache, 1), "pairs_per_s_no_cache": round(ei.size / t_plain, 1),
            "speedup": round(t_plain / t_cache, 2), "max_abs_diff": float(np.abs(cached - plain).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated (default: every pair model)")
    parser.add_argument("--elements", type=int, default=50, help="distinct enhancers (and promoters)")
    parser.add_argument("--pairs-per-element", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--enhancer-length", type=int, default=3000)
    parser.add_argument("--promoter-length", type=int, default=2000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    names = args.models.split(",") if args.models else [
        n for n in available_models() if getattr(get_model_class(n), "task", "pairs") == "pairs"]
    result = {"bench": "predict_throughput", "device": str(device),
              "enhancer_length": args.enhancer_length, "promoter_length": args.promoter_length,
              "pairs_per_element": args.pairs_per_element, "models": {}}
    with torch.no_grad():
        for name in names:
            result["models"][name] = bench_model(name, device, args)
    if "epipdlf" in result["models"]:
        r = result["models"]["epipdlf"]
        result["epipdlf_cache_ok"] = bool(r["speedup"] >= 5 and r["max_abs_diff"] < 1e-5)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
