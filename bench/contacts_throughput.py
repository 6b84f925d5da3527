"""Pairs per second extracting Hi-C contacts for 1M simulated pairs from a 5 kb .mcool.

Builds a synthetic power-law 5 kb cooler (three chromosomes, pixels up to 2 Mb from the
diagonal) with a multiplicative `weight` and a divisive `KR` column (both ones), zoomifies it
to an .mcool, then times :func:`epitools.contacts.pair_contacts` with ``--balance`` (default
``auto``: `weight`; ``KR`` times the divisive path). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cooler
import numpy as np
import pandas as pd

from epitools.contacts import pair_contacts

RES = 5000


def build_mcool(path: Path, chrom_len: int, max_dist: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    chroms = {f"chr{i}": chrom_len for i in (1, 2, 3)}
    bins = cooler.binnify(pd.Series(chroms), RES)
    bins["weight"] = 1.0
    bins["KR"] = 1.0
    offsets = np.concatenate([[0], np.cumsum([len(bins[bins.chrom == c]) for c in chroms])])
    band = max_dist // RES

    def chunks():
        for k, _ in enumerate(chroms):
            lo, hi = offsets[k], offsets[k + 1]
            for start in range(lo, hi, 2000):
                rows = np.arange(start, min(start + 2000, hi))
                b1 = np.repeat(rows, band + 1)
                b2 = b1 + np.tile(np.arange(band + 1), rows.size)
                keep = b2 < hi
                b1, b2 = b1[keep], b2[keep]
                lam = 200.0 * (1.0 + (b2 - b1)) ** -1.0
                cnt = rng.poisson(lam)
                nz = cnt > 0
                yield pd.DataFrame({"bin1_id": b1[nz], "bin2_id": b2[nz], "count": cnt[nz]})

    cool = path.with_suffix(".cool")
    cooler.create_cooler(str(cool), bins, chunks(), ordered=True)
    cooler.zoomify_cooler(str(cool), str(path), [RES, 4 * RES], chunksize=10_000_000)


def simulate_pairs(n: int, chrom_len: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    chrom = rng.choice(["chr1", "chr2", "chr3"], n)
    tss = rng.integers(1_000_000, chrom_len - 1_000_000, n)
    mid = tss + rng.integers(-1_000_000, 1_000_000, n)
    return pd.DataFrame({"enhancer_chrom": chrom, "enhancer_start": mid - 250, "enhancer_end": mid + 250,
                         "promoter_chrom": chrom, "promoter_start": tss - 1000, "promoter_end": tss + 1000,
                         "tss": tss})


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--chrom-length", type=int, default=50_000_000)
    ap.add_argument("--max-distance", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--balance", default="auto", help="balancing column (auto, weight, KR, none)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mcool = Path(tmp) / "sim.mcool"
        t0 = time.perf_counter()
        build_mcool(mcool, args.chrom_length, args.max_distance, args.seed)
        build_s = time.perf_counter() - t0
        pairs = simulate_pairs(args.pairs, args.chrom_length, args.seed)
        t0 = time.perf_counter()
        out = pair_contacts(pairs, mcool, balance=args.balance)
        secs = time.perf_counter() - t0
        clr = cooler.Cooler(f"{mcool}::resolutions/{RES}")
        print(json.dumps({"bench": "contacts_throughput", "pairs": args.pairs, "resolution": RES,
                          "pixels": int(clr.info["nnz"]), "seconds": round(secs, 3),
                          "pairs_per_s": round(args.pairs / secs), "build_seconds": round(build_s, 1),
                          "balance": out.attrs["contacts"]["balance"],
                          "divisive_weights": out.attrs["contacts"]["divisive_weights"],
                          "nonzero_contacts": int((out["contact"] > 0).sum())}))


if __name__ == "__main__":
    main()
