"""Pairs-table read speed: :func:`epitools.io.pairs.read_pairs` vs pandas' CSV and Parquet readers.

TSV against ``pandas.read_csv`` (C and pyarrow engines), Parquet against ``pandas.read_parquet``.

Builds a candidate-pairs table the way ``epi-candidates pairs`` writes it (every element within
``--max-distance`` of each gene's TSS, with the element and gene columns the chain carries:
``name class activity dnase h3k27ac gene_strand gene_id expression ...``) on a simulated
genome of ``--chroms`` chromosomes with ``--elements`` elements and ``--genes`` genes (the
defaults give ~1.56 M pairs, the size of ``bench/genome_scale.py``'s default preset), writes it
with :func:`epitools.io.pairs.write_pairs` as TSV and as Parquet, then reads it with every
reader alternately ``--repeats`` times, each read in a fresh child process (no allocator or
string-cache reuse between them). Reports the median wall and CPU seconds of each and the
ratios (ours / theirs; <= 1.0 means at least as fast) as one JSON line: ``ratio_*`` against
``pd.read_csv`` (C engine), ``ratio_*_pyarrow_csv`` against ``pd.read_csv(engine="pyarrow")``,
``ratio_*_python_str`` against the C engine with pandas' text as Python strings
(``mode.string_storage="python"``, what pandas gives without pyarrow), ``parquet_ratio_*`` of
``read_pairs`` on the Parquet table against ``pd.read_parquet``.

``read_pairs`` returns validated canonical tables whose text columns are Python ``str``
(``object``); the pandas readers return unvalidated frames (with pyarrow installed, pandas 3
keeps text in Arrow buffers, no Python objects).

    OMP_NUM_THREADS=1 nice -n 10 python bench/table_io.py [--elements 13000 --genes 1440]
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

BENCH = Path(__file__).resolve()


def simulate_table(n_chroms: int, chrom_size: int, n_elements: int, n_genes: int,
                   max_distance: float, seed: int = 0) -> pd.DataFrame:
    """Candidate pairs of a random genome, as ``epi-candidates pairs`` builds them, (N, ~20)."""
    from epitools.regions.pairs import iter_chromosome_pairs

    rng = np.random.default_rng(seed)
    chroms = [f"chr{i + 1}" for i in range(n_chroms)]
    e_chrom = np.array(chroms, dtype=object)[rng.integers(0, n_chroms, n_elements)]
    e_start = rng.integers(0, chrom_size - 2000, n_elements)
    order = np.lexsort((e_start, [int(c[3:]) for c in e_chrom]))
    e_chrom, e_start = e_chrom[order], e_start[order]
    elements = pd.DataFrame({
        "chrom": e_chrom, "start": e_start, "end": e_start + rng.integers(150, 2000, n_elements),
        "name": [f"{c}:{s}" for c, s in zip(e_chrom, e_start)],
        "class": rng.choice(np.array(["genic", "intergenic", "promoter"], dtype=object), n_elements),
        "activity": rng.gamma(2.0, 3.0, n_elements), "dnase": rng.gamma(2.0, 5.0, n_elements),
        "h3k27ac": rng.gamma(2.0, 2.0, n_elements),
    })
    g_chrom = np.array(chroms, dtype=object)[np.arange(n_genes) % n_chroms]
    genes = pd.DataFrame({
        "gene": [f"GENE{i:05d}" for i in range(n_genes)], "chrom": g_chrom,
        "tss": rng.integers(1000, chrom_size - 1000, n_genes),
        "strand": rng.choice(np.array(["+", "-"], dtype=object), n_genes),
        "gene_id": [f"ENSG{i:011d}" for i in range(n_genes)],
        "expression": rng.gamma(1.5, 10.0, n_genes),
        "promoter_activity_quantile": rng.random(n_genes),
        "is_expressed": rng.random(n_genes) < 0.7,
    })
    return pd.concat([chunk for _, chunk in iter_chromosome_pairs(elements, genes, max_distance)],
                     ignore_index=True)


def child(reader: str, path: str) -> None:
    """One read in this process: wall and CPU seconds, rows and columns, as JSON."""
    if reader in ("ours", "ours_parquet"):
        from epitools.io.pairs import read_pairs

        read = read_pairs
    elif reader == "pandas":
        def read(p):
            return pd.read_csv(p, sep="\t")
    elif reader == "pandas_python_str":
        # pandas' text as Python strings, as without pyarrow (and as read_pairs returns text)
        pd.set_option("mode.string_storage", "python")

        def read(p):
            return pd.read_csv(p, sep="\t")
    elif reader == "pandas_pyarrow":
        def read(p):
            return pd.read_csv(p, sep="\t", engine="pyarrow")
    else:
        read = pd.read_parquet
    t0, c0 = time.perf_counter(), time.process_time()
    table = read(path)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "rows": len(table), "columns": table.shape[1]}))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chroms", type=int, default=12)
    parser.add_argument("--chrom-size", type=int, default=4_000_000)
    parser.add_argument("--elements", type=int, default=13_000)
    parser.add_argument("--genes", type=int, default=1_440)
    parser.add_argument("--max-distance", type=float, default=5e6)
    parser.add_argument("--repeats", type=int, default=3, help="alternate reads of each reader")
    parser.add_argument("--table", default=None, help="read this table instead of simulating one")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="table_io-") as work:
        from epitools.io.pairs import read_pairs, write_pairs

        path = args.table
        if path is None:
            path = os.path.join(work, "pairs.tsv")
            table = simulate_table(args.chroms, args.chrom_size, args.elements, args.genes, args.max_distance)
            write_pairs(table, path)
        else:
            table = read_pairs(path)
        parquet = os.path.join(work, "pairs.parquet")
        write_pairs(table, parquet)
        del table
        sources = {"pandas": path, "ours": path, "pandas_python_str": path, "pandas_pyarrow": path,
                   "pandas_parquet": parquet, "ours_parquet": parquet}
        runs = {reader: [] for reader in sources}
        for _ in range(args.repeats):
            for reader, source in sources.items():
                out = subprocess.run([sys.executable, str(BENCH), "--child", reader, source],
                                     check=True, capture_output=True, text=True).stdout
                runs[reader].append(json.loads(out.strip().splitlines()[-1]))
        med = {r: {k: float(np.median([x[k] for x in runs[r]])) for k in ("wall_s", "cpu_s")} for r in runs}

        def ratio(ours, theirs, key):
            return round(med[ours][key] / med[theirs][key], 3)

        print(json.dumps({
            "bench": "table_io", "rows": runs["ours"][0]["rows"], "mb": round(os.path.getsize(path) / 2 ** 20, 1),
            "parquet_mb": round(os.path.getsize(parquet) / 2 ** 20, 1), "repeats": args.repeats,
            **{f"{r}_{k}": round(med[r][k], 3) for r in runs for k in ("wall_s", "cpu_s")},
            "ratio_wall": ratio("ours", "pandas", "wall_s"), "ratio_cpu": ratio("ours", "pandas", "cpu_s"),
            "ratio_wall_python_str": ratio("ours", "pandas_python_str", "wall_s"),
            "ratio_cpu_python_str": ratio("ours", "pandas_python_str", "cpu_s"),
            "ratio_wall_pyarrow_csv": ratio("ours", "pandas_pyarrow", "wall_s"),
            "ratio_cpu_pyarrow_csv": ratio("ours", "pandas_pyarrow", "cpu_s"),
            "parquet_ratio_wall": ratio("ours_parquet", "pandas_parquet", "wall_s"),
            "parquet_ratio_cpu": ratio("ours_parquet", "pandas_parquet", "cpu_s"),
            "parquet_vs_csv_wall": ratio("ours_parquet", "ours", "wall_s"),
            "all_runs": {r: [round(x["wall_s"], 3) for x in runs[r]] for r in runs},
        }), flush=True)


if __name__ == "__main__":
    main()
