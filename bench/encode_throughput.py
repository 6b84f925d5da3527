"""Encode throughput: simulated FASTA genome + pairs -> compressed HDF5 store.

Prints one JSON line: pairs/s, MB/s of encoded windows and peak RSS for each
set size (default 10k and 100k pairs), each encoded in a fresh subprocess so
peak memory is measured per size. Peak RSS above the loaded genome should be
flat across sizes: the encoder streams the pairs in chunks.

    python bench/encode_throughput.py [--sizes 10000 100000] [--compression blosc]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def write_genome(path: Path, n_chroms: int, chrom_size: int, seed: int) -> dict:
    """Random ACGT chromosomes with a few N runs, 60 bases per FASTA line."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    sizes = {}
    with open(path, "wb") as fh:
        for c in range(n_chroms):
            name = f"chr{c + 1}"
            codes = rng.integers(0, 4, chrom_size, dtype=np.uint8)
            codes[:10_000] = 4  # telomere-like N run
            seq = letters[codes]
            width = 60
            full = (chrom_size // width) * width
            lines = np.concatenate([seq[:full].reshape(-1, width),
                                    np.full((full // width, 1), ord("\n"), np.uint8)], axis=1)
            fh.write(f">{name}\n".encode())
            fh.write(lines.tobytes())
            if full < chrom_size:
                fh.write(seq[full:].tobytes() + b"\n")
            sizes[name] = chrom_size
    return sizes


def write_pairs(path: Path, n: int, sizes: dict, seed: int) -> None:
    """Canonical pairs table: 1 kb enhancers within 500 kb of 2 kb promoters, 5% positive."""
    rng = np.random.default_rng(seed)
    names = np.array(list(sizes))
    chrom = names[rng.integers(0, len(names), n)]
    size = np.array([sizes[c] for c in chrom])
    p_start = rng.integers(0, size - 2000)
    e_start = np.clip(p_start + rng.integers(-500_000, 500_000, n), 0, size - 1000)
    pd.DataFrame({"enhancer_chrom": chrom, "enhancer_start": e_start, "enhancer_end": e_start + 1000,
                  "promoter_chrom": chrom, "promoter_start": p_start, "promoter_end": p_start + 2000,
                  "label": (rng.random(n) < 0.05).astype(int),
                  "pair_id": [f"p{i}" for i in range(n)]}).to_csv(path, sep="\t", index=False)


def child(args) -> None:
    """Encode one set in this process and print its figures."""
    from epitools.io.genome import Genome
    from epitools.data.pair_store import build_pair_store

    t0 = time.perf_counter()
    genome = Genome(args.genome)
    for name in genome.chrom_sizes:
        genome.codes(name)
    load_s = time.perf_counter() - t0
    rss_genome_kb = _proc_status_kb("VmRSS")
    t1 = time.perf_counter()
    summary = build_pair_store(args.pairs, args.out, genome, enhancer_length=3000,
                               promoter_length=2000, chunk_size=args.chunk_size,
                               compression=None if args.compression == "none" else args.compression)
    encode_s = time.perf_counter() - t1
    peak_kb = _proc_status_kb("VmHWM")
    n = summary["pairs"]
    print(json.dumps({
        "pairs": n, "rows": summary["rows"], "encode_s": round(encode_s, 3),
        "pairs_per_s": round(n / encode_s), "mb_per_s": round(summary["rows"] * 5000 / encode_s / 1e6, 1),
        "genome_load_s": round(load_s, 3), "rss_after_genome_mb": round(rss_genome_kb / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "peak_above_genome_mb": round((peak_kb - rss_genome_kb) / 1024, 1),
        "store_mb": round(os.path.getsize(args.out) / 1e6, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--chroms", type=int, default=4)
    parser.add_argument("--chrom-size", type=int, default=5_000_000)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--compression", choices=["lzf", "gzip", "blosc", "none"], default="blosc")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--genome", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="epi-bench-encode-") as tmp:
        tmp = Path(tmp)
        sizes = write_genome(tmp / "genome.fa", args.chroms, args.chrom_size, args.seed)
        for n in args.sizes:
            pairs = tmp / f"pairs_{n}.tsv"
            write_pairs(pairs, n, sizes, args.seed + n)
            cmd = [sys.executable, __file__, "--child", "--genome", str(tmp / "genome.fa"),
                   "--pairs", str(pairs), "--out", str(tmp / f"store_{n}.h5"),
                   "--chunk-size", str(args.chunk_size), "--compression", args.compression]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results[str(n)] = json.loads(done.stdout.strip().splitlines()[-1])
            (tmp / f"store_{n}.h5").unlink()
    first, last = results[str(args.sizes[0])], results[str(args.sizes[-1])]
    print(json.dumps({
        "benchmark": "encode_throughput", "compression": args.compression,
        "genome_bp": args.chroms * args.chrom_size, "windows_bp": [3000, 2000],
        "chunk_size": args.chunk_size, "cpus": os.cpu_count(), "runs": results,
        "peak_above_genome_growth_mb": round(last["peak_above_genome_mb"] - first["peak_above_genome_mb"], 1)}))


if __name__ == "__main__":
    main()
