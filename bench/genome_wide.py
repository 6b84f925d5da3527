"""Genome-wide maps: throughput and peak memory of candidates -> pairs -> ABC.

Runs each step as its own process (``epi-candidates regions``, ``activity``, ``pairs`` and
``epi-prioritize abc`` streamed per chromosome) and prints one JSON line per step with
wall seconds, pairs/s and the step's peak RSS (``wait4``). Data sets:

``chr22``
    ABC's K562 chr22 test set in ``../shared/data/abc/K562_chr22_hg38`` (MACS2 peaks, the TSS
    include-list, the read-count bedGraphs, GeneList) over 5 Mb;
``sim-<n>``
    a synthetic genome of equal 50 Mb chromosomes (60 peaks and 10 genes per Mb, bigWig
    signal), sized to ``n`` candidate pairs within 5 Mb; two sizes (default 1.5 M and 3 M)
    show that memory follows one chromosome, not the genome.

    python bench/genome_wide.py [--sets chr22,sim] [--sim-pairs 1500000,3000000] [--workdir DIR]
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
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
ABC_DIR = REPO.parent / "shared" / "data" / "abc" / "K562_chr22_hg38"
QNORM = REPO.parent / "shared" / "data" / "abc" / "reference" / "EnhancersQNormRef.K562.txt"
CHROM_SIZE = 50_000_000
PEAKS_PER_MB, GENES_PER_MB, WINDOW = 60, 10, 5_000_000


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def run_step(data_set: str, step: str, argv: list[str], pairs=None) -> dict:
    """Run one command, wait for it with ``wait4`` and report its time and peak RSS.

    ``pairs``: the pairs it handles, or a function counting them once it has run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed ({proc.returncode}): {err[-2000:]}")
    record = {"bench": "genome_wide", "set": data_set, "step": step, "seconds": round(seconds, 2),
              "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    if callable(pairs):
        pairs = pairs()
    if pairs is not None:
        record.update(pairs=int(pairs), pairs_per_s=round(pairs / seconds, 1))
    print(json.dumps(record), flush=True)
    return record


def _count_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1


def _chain(data_set: str, work: Path, peaks: Path, include: list[str], activity_args: list[str],
           genes: Path, abc_args: list[str], chrom_sizes: list[str], activity_elements: Path | None = None) -> None:
    cand, elements, pairs = work / "candidates.bed", work / "elements.bed", work / "pairs.tsv"
    run_step(data_set, "regions", [_tool("epi-candidates"), "regions", "-q", "--peaks", str(peaks),
                                   *include, *chrom_sizes, "-o", str(cand)])
    run_step(data_set, "activity", [_tool("epi-candidates"), "activity", "-q", "--elements",
                                    str(activity_elements or cand),
                                    *activity_args, "--genes", str(genes), *chrom_sizes, "-o", str(elements)])
    n = run_step(data_set, "pairs", [_tool("epi-candidates"), "pairs", "-q", "--elements", str(elements),
                                     "--genes", str(genes), *chrom_sizes, "-o", str(pairs)],
                 pairs=lambda: _count_rows(pairs))["pairs"]
    run_step(data_set, "abc", [_tool("epi-prioritize"), "abc", "-q", "--pairs", str(pairs), *abc_args,
                               "--summaries", str(work / "summaries"), "-o", str(work / "abc.tsv")], pairs=n)


def chr22(work: Path) -> None:
    """ABC's chr22 set: peaks + include-list -> candidates; its own element list for activity."""
    if not ABC_DIR.is_dir():
        print(json.dumps({"bench": "genome_wide", "set": "chr22", "skipped": f"{ABC_DIR} not found"}))
        return
    work.mkdir(parents=True, exist_ok=True)
    genes = work / "genes.tsv"
    subprocess.run([_tool("epi-candidates"), "genes", "-q", "--annotation", str(ABC_DIR / "GeneList.txt.gz"),
                    "--biotype", "all", "-o", str(genes)], check=True)
    params = dict(line.split(" ", 1) for line in (ABC_DIR / "parameters.predict.txt").read_text().splitlines())
    _chain("chr22", work, ABC_DIR / "macs2_peaks.narrowPeak.sorted.gz",
           ["--include", str(ABC_DIR / "RefSeqCurated.CollapsedGeneBounds.chr22.hg38.TSS500bp.bed")],
           ["--dnase", str(ABC_DIR / "Enhancers.DHS.ENCFF860XAE.CountReads.bedgraph.gz"),
            "--h3k27ac", str(ABC_DIR / "Enhancers.H3K27ac.ENCFF790GFL.CountReads.bedgraph.gz"),
            "--qnorm", str(QNORM)],
           genes, ["--gamma", params["hic_gamma"].strip(), "--scale", params["hic_scale"].strip(),
                   "--abc-threshold", "0.027"], [],
           # the read counts on hand are ABC's, over its own element list (no BAMs in shared data)
           activity_elements=ABC_DIR / "EnhancerList.bed.gz")


def simulated_genome(work: Path, n_chroms: int, seed: int = 0) -> tuple[Path, Path, Path, Path, Path]:
    """Peaks (narrowPeak), genes (TSS table), two bigWigs and chrom.sizes of a synthetic genome."""
    from epitools.io.tracks import write_bigwig

    rng = np.random.default_rng(seed)
    sizes = {f"chr{i + 1}": CHROM_SIZE for i in range(n_chroms)}
    peaks, genes = [], []
    for chrom in sizes:
        n_peaks = PEAKS_PER_MB * CHROM_SIZE // 1_000_000
        start = np.sort(rng.choice(CHROM_SIZE // 1000 - 2, n_peaks, replace=False) + 1) * 1000
        width = rng.integers(150, 900, n_peaks)
        peaks.append(pd.DataFrame({"chrom": chrom, "start": start, "end": start + width, "name": ".",
                                   "score": 0, "strand": ".", "signal": np.round(rng.lognormal(1, 1, n_peaks), 3),
                                   "p": -1, "q": -1, "summit": width // 2}))
        n_genes = GENES_PER_MB * CHROM_SIZE // 1_000_000
        tss = np.sort(rng.choice(CHROM_SIZE - 200_000, n_genes, replace=False) + 100_000)
        genes.append(pd.DataFrame({"gene": [f"{chrom}_g{i}" for i in range(n_genes)], "chrom": chrom, "tss": tss,
                                   "strand": np.where(rng.random(n_genes) < 0.5, "+", "-"),
                                   "start": tss, "end": tss + 20_000}))
    peaks, genes = pd.concat(peaks, ignore_index=True), pd.concat(genes, ignore_index=True)
    work.mkdir(parents=True, exist_ok=True)
    paths = (work / "peaks.narrowPeak", work / "genes.tsv", work / "dnase.bw", work / "h3k27ac.bw",
             work / "chrom.sizes")
    peaks.to_csv(paths[0], sep="\t", header=False, index=False)
    genes.to_csv(paths[1], sep="\t", index=False)
    for path, spread in ((paths[2], 1.0), (paths[3], 1.5)):
        segments = peaks[["chrom", "start", "end"]].assign(value=rng.lognormal(0, spread, len(peaks)))
        write_bigwig(segments, path, sizes)
    paths[4].write_text("".join(f"{c}\t{s}\n" for c, s in sizes.items()))
    return paths


def simulated(work: Path, target_pairs: int) -> None:
    # ~ genes x peaks within 5 Mb per chromosome; the count is measured, this only sizes the genome
    per_chrom = GENES_PER_MB * CHROM_SIZE / 1e6 * PEAKS_PER_MB * 2 * WINDOW / 1e6 * 0.95
    n_chroms = max(1, int(np.ceil(target_pairs / per_chrom)))
    peaks, genes, dnase, h3k27ac, sizes = simulated_genome(work, n_chroms)
    _chain(f"sim-{n_chroms}x50Mb", work, peaks, [], ["--dnase", str(dnase), "--h3k27ac", str(h3k27ac)],
           genes, [], ["--chrom-sizes", str(sizes)])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="chr22,sim")
    parser.add_argument("--sim-pairs", default="1500000,3000000", help="target pairs of each simulated size")
    parser.add_argument("--workdir", default=None, help="keep the files here [a temporary directory]")
    args = parser.parse_args(argv)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="genome_wide-"))
    try:
        sets = args.sets.split(",")
        if "chr22" in sets:
            chr22(work / "chr22")
        if "sim" in sets:
            for target in map(int, args.sim_pairs.split(",")):
                simulated(work / f"sim-{target}", target)
                shutil.rmtree(work / f"sim-{target}", ignore_errors=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
