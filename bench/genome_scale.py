"""Genome scale: a simulated genome's candidate element–gene pairs through the whole chain.

Simulates a genome (``epi-simulate --preset default``: 12 chromosomes of 4 Mb, 1,440 genes,
~13k enhancers; with every element within 5 Mb of each TSS that is ~1.6 M candidate pairs),
then runs each step as its own process, timed with ``os.wait4`` (wall seconds, peak RSS):

``activity``  ``epi-candidates activity`` (DNase x H3K27ac bigWigs over the elements)
``pairs``     ``epi-candidates pairs --max-distance 5e6``
``contacts``  ``epi-contacts`` (the simulated 5 kb .mcool)
``abc``       ``epi-prioritize abc`` on the contacts table
``predict``   ``epi-predict`` with an untrained SIMCNN at 500 bp (the element cache embeds each
              distinct window once; throughput does not depend on the weights)

and, outside the chain, ``predict_epipam``: an untrained EPIPAM at the paper windows (3 kb / 2 kb)
through ``epi-predict`` on the first ``--epipam-pairs`` rows, extrapolated to the whole table by
its distinct windows (the cache's cost follows windows, not pairs) and, for comparison, by pairs;

and, side by side, the ratios to plain baselines, each measured in its own process:

* table read: :func:`epitools.io.pairs.read_pairs` vs ``pandas.read_csv`` (CPU seconds, best of 2);
* ABC: ``epi-prioritize abc`` vs a pandas script doing the same power-law contact, numerator and
  per-gene sum, read and write (wall seconds and peak RSS, both on the pairs table);
* k-mer ids at k = 6: :func:`epitools.data.encoding.kmer_ids` (from the genome's bytes) vs a
  numpy lookup-table rolling encoder, on 3 kb windows (identical ids asserted), and the
  per-position Python loop over a k-mer dictionary that EPIVAN / EPI-DLMH-style peers use
  (re-created here on a few windows: it is that slow).

Prints one JSON line per step, then one summary line. ``--small`` (``--preset small``, ~30k
pairs) checks the whole thing in about a minute.

    nice -n 10 python bench/genome_scale.py [--small] [--workdir DIR] [--skip-predict]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve()
WINDOW = 500
# ABC's K562 power law, as epitools.contacts.powerlaw defines it (the baseline must not import it)
GAMMA, SCALE = 1.024238616787792, 5.9594510043736655


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def run_step(step: str, argv: list[str], pairs=None, quiet: bool = False) -> dict:
    """Run one command as a child process; its wall time and peak RSS (``wait4``).

    ``pairs``: the pairs it handles, or a function counting them once it has run."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed ({proc.returncode}): {errors[-3000:]}")
    record = {"bench": "genome_scale", "step": step, "seconds": round(seconds, 2),
              "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    if callable(pairs):
        pairs = pairs()
    if pairs:
        record.update(pairs=int(pairs), pairs_per_s=round(pairs / seconds, 1))
    if text.strip().startswith("{"):
        record["result"] = json.loads(text.strip().splitlines()[-1])
    if not quiet:
        print(json.dumps(record), flush=True)
    return record


def count_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1


PAPER_WINDOWS = (3000, 2000)


def write_model(path: Path, name: str = "simcnn", enhancer_length: int = WINDOW,
                promoter_length: int = WINDOW) -> None:
    """An untrained checkpoint of ``name`` for the given windows (seeded weights)."""
    import torch

    from epitools.io.checkpoint import make_checkpoint, save_checkpoint
    from epitools.models.registry import get_model_class

    torch.manual_seed(0)
    model = get_model_class(name)(enhancer_length=enhancer_length, promoter_length=promoter_length).eval()
    save_checkpoint(make_checkpoint(model, name, model.encoding,
                                    {"enhancer_length": enhancer_length, "promoter_length": promoter_length,
                                     "note": "untrained, for throughput"}), path)


def distinct_windows(table) -> int:
    """Distinct enhancer plus distinct promoter elements of a pairs table."""
    enhancers = table[["enhancer_chrom", "enhancer_start", "enhancer_end"]].drop_duplicates()
    promoters = table[["promoter_chrom", "promoter_start", "promoter_end"]].drop_duplicates()
    return len(enhancers) + len(promoters)


# -- baselines, each run as `python genome_scale.py --child NAME ...` in its own process

def child_pandas_abc(pairs: str, out: str) -> None:
    """ABC with pandas alone: power-law contact, numerator within 5 Mb, per-gene sum, write."""
    import pandas as pd

    df = pd.read_csv(pairs, sep="\t")
    distance = df["distance"].to_numpy(np.float64)
    contact = np.exp(SCALE - GAMMA * np.log(np.clip(distance, 5000, np.inf) + 1.0))
    df["contact"] = df["contact_norm"] = df["powerlaw_contact"] = contact
    numerator = np.where(distance < 5e6, df["activity"].to_numpy(np.float64) * contact, np.nan)
    df["abc_numerator"] = numerator
    df["abc_score"] = numerator / df.groupby("gene", sort=False)["abc_numerator"].transform("sum").to_numpy()
    df["abc_predicted"] = df["abc_score"] >= 0.02
    df.to_csv(out, sep="\t", index=False)


def child_read(pairs: str) -> None:
    """CPU seconds of read_pairs and of pandas.read_csv on the same table (best of 2 each)."""
    import pandas as pd

    from epitools.io.pairs import read_pairs

    best = {"ours": np.inf, "pandas": np.inf}
    for _ in range(2):
        for name, read in (("pandas", lambda: pd.read_csv(pairs, sep="\t")), ("ours", lambda: read_pairs(pairs))):
            t0 = time.process_time()
            table = read()
            best[name] = min(best[name], time.process_time() - t0)
            del table
    print(json.dumps({"read_s": round(best["ours"], 2), "pandas_read_s": round(best["pandas"], 2),
                      "ratio": round(best["ours"] / best["pandas"], 3)}))


def lut_kmer_ids(raw: np.ndarray, k: int) -> np.ndarray:
    """Peer-style numpy encoder: a byte lookup table to 2-bit codes, then a rolling
    shift-or over the k positions; windows with a non-ACGT base get id 0. (n, L) -> (n, L-k+1)."""
    lut = np.full(256, 4, dtype=np.int16)
    for i, base in enumerate(b"ACGT"):
        lut[base] = lut[base + 32] = i
    codes = lut[raw]
    n_out = raw.shape[-1] - k + 1
    ids = np.zeros(raw.shape[:-1] + (n_out,), dtype=np.int16)
    bad = np.zeros(ids.shape, dtype=bool)
    for i in range(k):
        window = codes[..., i:i + n_out]
        ids <<= 2
        ids |= window & 3
        bad |= window > 3
    ids += 1
    ids[bad] = 0
    return ids


def loop_kmer_ids(sequences: list[str], k: int) -> list[list[int]]:
    """The peers' encoder: a dictionary of every k-mer, looked up position by position."""
    from itertools import product

    index = {"".join(p): i + 1 for i, p in enumerate(product("ACGT", repeat=k))}
    return [[index.get(seq[i:i + k], 0) for i in range(len(seq) - k + 1)] for seq in sequences]


def child_kmer(genome: str, n_windows: int) -> None:
    """Sequences per second of kmer_ids and of the LUT encoder on 3 kb windows at k = 6."""
    from epitools.data.encoding import encode_bytes, kmer_ids

    text = b"".join(line.strip() for line in open(genome, "rb") if not line.startswith(b">"))
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(text) - 3000, n_windows)
    raw = np.frombuffer(text, dtype=np.uint8)[starts[:, None] + np.arange(3000)]
    timings = {}
    for name, encode in (("lut", lambda: lut_kmer_ids(raw, 6)), ("ours", lambda: kmer_ids(encode_bytes(raw), 6))):
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            ids = encode()
            best = min(best, time.perf_counter() - t0)
        timings[name] = (best, ids)
    same = bool(np.array_equal(timings["lut"][1], timings["ours"][1]))
    few = [bytes(row).decode().upper() for row in raw[:max(1, n_windows // 20)]]
    t0 = time.perf_counter()
    looped = loop_kmer_ids(few, 6)
    loop_s = time.perf_counter() - t0
    same = same and np.array_equal(np.asarray(looped), timings["ours"][1][:len(few)])
    print(json.dumps({"seqs_per_s": round(n_windows / timings["ours"][0]),
                      "lut_seqs_per_s": round(n_windows / timings["lut"][0]),
                      "peer_loop_seqs_per_s": round(len(few) / loop_s),
                      "ratio": round(timings["ours"][0] / timings["lut"][0], 3), "identical_ids": same}))


# -- the chain

def chain(work: Path, preset: str, skip_predict: bool) -> dict:
    sim = work / "sim"
    steps = {"simulate": run_step("simulate", [_tool("epi-simulate"), "-q", "--preset", preset, "-o", str(sim)])}
    sizes = ["--chrom-sizes", str(sim / "chrom.sizes")]
    elements, pairs, contacts = work / "elements.tsv", work / "pairs.tsv", work / "contacts.tsv"
    steps["activity"] = run_step("activity", [
        _tool("epi-candidates"), "activity", "-q", "--elements", str(sim / "elements.bed"),
        "--dnase", str(sim / "dnase.bw"), "--h3k27ac", str(sim / "h3k27ac.bw"),
        "--genes", str(sim / "genes.tsv"), *sizes, "-o", str(elements)])
    steps["pairs"] = run_step("pairs", [
        _tool("epi-candidates"), "pairs", "-q", "--elements", str(elements), "--genes", str(sim / "genes.tsv"),
        "--max-distance", "5e6", *sizes, "-o", str(pairs)], pairs=lambda: count_rows(pairs))
    n = steps["pairs"]["pairs"]
    steps["contacts"] = run_step("contacts", [
        _tool("epi-contacts"), "-q", "--pairs", str(pairs), "--hic", str(sim / "hic.mcool"),
        "--resolution", "5000", "-o", str(contacts)], pairs=n)
    steps["abc"] = run_step("abc", [_tool("epi-prioritize"), "abc", "-q", "--pairs", str(contacts),
                                    "-o", str(work / "abc.tsv")], pairs=n)
    if not skip_predict:
        model = work / "simcnn.pt"
        # in a child: a parent holding torch would raise every later child's peak RSS
        # (Linux keeps the pre-exec high-water mark of a forked process)
        subprocess.run([sys.executable, str(BENCH), "--child", "model", str(model)], check=True)
        steps["predict"] = run_step("predict", [
            _tool("epi-predict"), "-q", "--model", str(model), "--pairs", str(pairs),
            "--genome", str(sim / "genome.fa"), "--device", "cpu", "-o", str(work / "predictions.tsv")], pairs=n)
    return {"steps": steps, "pairs": n, "genome": sim / "genome.fa"}


def predict_epipam(work: Path, pairs: Path, genome: Path, n_subset: int) -> dict:
    """EPIPAM at the paper windows on the first ``n_subset`` pairs, extrapolated to the table."""
    import pandas as pd

    table = pd.read_csv(pairs, sep="\t", usecols=["enhancer_chrom", "enhancer_start", "enhancer_end",
                                                   "promoter_chrom", "promoter_start", "promoter_end"])
    subset_path = work / "pairs_epipam_subset.tsv"
    with open(pairs) as src, open(subset_path, "w") as dst:
        for i, line in enumerate(src):
            if i > n_subset:
                break
            dst.write(line)
    subset = table.iloc[:n_subset]
    model = work / "epipam.pt"
    subprocess.run([sys.executable, str(BENCH), "--child", "model", str(model), "epipam",
                    *map(str, PAPER_WINDOWS)], check=True)
    step = run_step("predict_epipam", [
        _tool("epi-predict"), "-q", "--model", str(model), "--pairs", str(subset_path), "--genome", str(genome),
        "--device", "cpu", "-o", str(work / "predictions_epipam.tsv")], pairs=len(subset), quiet=True)
    windows, all_windows = distinct_windows(subset), distinct_windows(table)
    step.update(windows=windows, windows_per_s=round(windows / step["seconds"], 1),
                table_pairs=len(table), table_windows=all_windows,
                extrapolated_minutes_by_windows=round(all_windows / windows * step["seconds"] / 60, 1),
                extrapolated_minutes_by_pairs=round(len(table) / len(subset) * step["seconds"] / 60, 1))
    print(json.dumps(step), flush=True)
    return step


def ratios(work: Path, pairs: Path, genome: Path, n_windows: int) -> dict:
    me = [sys.executable, str(BENCH), "--child"]
    ours = run_step("ratio_abc_ours", [_tool("epi-prioritize"), "abc", "-q", "--pairs", str(pairs),
                                       "-o", str(work / "abc_ours.tsv")], quiet=True)
    base = run_step("ratio_abc_pandas", [*me, "pandas_abc", str(pairs), str(work / "abc_pandas.tsv")], quiet=True)
    read = run_step("ratio_read", [*me, "read", str(pairs)], quiet=True)["result"]
    kmer = run_step("ratio_kmer", [*me, "kmer", str(genome), str(n_windows)], quiet=True)["result"]
    return {
        "table_read": {"ours_cpu_s": read["read_s"], "pandas_cpu_s": read["pandas_read_s"], "ratio": read["ratio"]},
        "abc": {"ours_s": ours["seconds"], "pandas_s": base["seconds"],
                "ratio": round(ours["seconds"] / base["seconds"], 3),
                "ours_rss_mb": ours["peak_rss_mb"], "pandas_rss_mb": base["peak_rss_mb"],
                "rss_ratio": round(ours["peak_rss_mb"] / base["peak_rss_mb"], 3)},
        "kmer_k6": kmer,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the small preset (~30k pairs, ~1 min)")
    parser.add_argument("--workdir", default=None, help="keep the files here [a temporary directory]")
    parser.add_argument("--skip-predict", action="store_true", help="leave out the epi-predict steps")
    parser.add_argument("--epipam-pairs", type=int, default=5000,
                        help="pairs of the EPIPAM paper-window subset [5000]")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, *rest = args.child
        {"pandas_abc": child_pandas_abc, "read": child_read,
         "model": lambda path, *spec: write_model(Path(path), *spec[:1], *map(int, spec[1:])),
         "kmer": lambda genome, n: child_kmer(genome, int(n))}[name](*rest)
        return
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="genome_scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        done = chain(work, "small" if args.small else "default", args.skip_predict)
        chain_steps = [s for name, s in done["steps"].items() if name != "simulate"]
        summary = {
            "bench": "genome_scale", "preset": "small" if args.small else "default", "pairs": done["pairs"],
            "chain_seconds": round(sum(s["seconds"] for s in chain_steps), 1),
            "chain_peak_rss_mb": max(s["peak_rss_mb"] for s in chain_steps),
            "steps": {name: {k: s[k] for k in ("seconds", "peak_rss_mb", "pairs_per_s") if k in s}
                      for name, s in done["steps"].items()},
            "ratios": ratios(work, work / "pairs.tsv", done["genome"], 200 if args.small else 1000),
        }
        if not args.skip_predict:
            epipam = predict_epipam(work, work / "pairs.tsv", done["genome"],
                                    min(args.epipam_pairs, done["pairs"]))
            summary["epipam_paper_windows"] = {k: epipam[k] for k in (
                "pairs", "seconds", "pairs_per_s", "windows_per_s", "extrapolated_minutes_by_windows",
                "extrapolated_minutes_by_pairs")}
        summary["acceptance"] = {
            "chain_le_15_min": summary["chain_seconds"] <= 900,
            "rss_le_3_gb": summary["chain_peak_rss_mb"] <= 3072,
            "abc_ratio_le_1": summary["ratios"]["abc"]["ratio"] <= 1.0,
            "abc_rss_le_1_2x": summary["ratios"]["abc"]["rss_ratio"] <= 1.2,
            "read_ratio_le_1": summary["ratios"]["table_read"]["ratio"] <= 1.0,
            "kmer_ratio_le_1_5": summary["ratios"]["kmer_k6"]["ratio"] <= 1.5,
        }
        print(json.dumps(summary), flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
