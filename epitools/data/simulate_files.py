"""Simulated inputs of the genome mode: peaks, a GTF and a DNase BAM.

Written beside the other simulated files so that ``epi-candidates`` (regions → genes →
activity → pairs) runs on them as on a lab's own files:

``peaks.narrowPeak``
    one MACS2-style peak per element and promoter with accessibility, summit at its centre,
    ``signalValue`` the planted DNase level;
``genes.gtf``
    GENCODE-style ``gene``/``transcript``/``exon`` records (``gene_id``, ``gene_name``,
    ``gene_type``); the gene's 5' end is the simulated TSS;
``dnase.bam`` (+ ``.bai``)
    single-end 50 bp reads, a Poisson number per element proportional to its DNase level
    plus a uniform background, coordinate-sorted and indexed.

Draws come from their own generator (seeded by the simulation seed), so the other simulated
files are byte-identical with or without these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

READ_LENGTH = 50
READS_PER_UNIT = 40  # reads per unit of simulated DNase level
BACKGROUND_PER_KB = 0.2
GENE_LENGTH = 20_000
GENOME_FILES = ["peaks.narrowPeak", "genes.gtf", "dnase.bam", "dnase.bam.bai"]


def _elements(genes: pd.DataFrame, enhancers: pd.DataFrame, activity: dict) -> pd.DataFrame:
    frame = pd.concat([
        pd.DataFrame({"chrom": enhancers["chrom"], "start": enhancers["start"], "end": enhancers["end"],
                      "dnase": np.asarray(activity["enhancer_dnase"], float)}),
        pd.DataFrame({"chrom": genes["chrom"], "start": genes["start"], "end": genes["end"],
                      "dnase": np.asarray(activity["promoter_dnase"], float)})], ignore_index=True)
    return frame.sort_values(["chrom", "start", "end"], kind="stable").reset_index(drop=True)


def write_narrowpeak(path, elements: pd.DataFrame) -> None:
    """MACS2 narrowPeak: one peak per element with positive DNase level."""
    peaks = elements[elements["dnase"] > 0].reset_index(drop=True)
    score = np.minimum(1000, np.round(100 * peaks["dnase"])).astype(int)
    table = pd.DataFrame({"chrom": peaks["chrom"], "start": peaks["start"], "end": peaks["end"],
                          "name": [f"sim_peak_{i + 1}" for i in range(len(peaks))], "score": score,
                          "strand": ".", "signal": np.round(peaks["dnase"], 4),
                          "p": np.round(10 * peaks["dnase"], 4), "q": -1,
                          "summit": (peaks["end"] - peaks["start"]) // 2})
    table.to_csv(path, sep="\t", header=False, index=False, lineterminator="\n")


def write_gtf(path, genes: pd.DataFrame, chrom_sizes: dict) -> None:
    """GENCODE-style GTF (1-based, inclusive) with one transcript and exon per gene."""
    lines = []
    for g in genes.itertuples(index=False):
        if g.strand == "+":
            start, end = g.tss, min(g.tss + GENE_LENGTH, chrom_sizes[g.chrom])
        else:
            start, end = max(g.tss + 1 - GENE_LENGTH, 0), g.tss + 1
        ids = f'gene_id "{g.gene}"; gene_type "protein_coding"; gene_name "{g.gene}";'
        tx = f'{ids} transcript_id "{g.gene}-T1"; transcript_type "protein_coding";'
        for feature, attrs in (("gene", ids), ("transcript", tx), ("exon", tx + " exon_number 1;")):
            lines.append(f"{g.chrom}\tsim\t{feature}\t{start + 1}\t{end}\t.\t{g.strand}\t.\t{attrs}\n")
    with open(path, "w") as fh:
        fh.write("##description: epi-simulate genes\n")
        fh.writelines(lines)


def write_dnase_bam(path, elements: pd.DataFrame, chrom_sizes: dict, rng) -> int:
    """Coordinate-sorted, indexed single-end BAM; returns the number of reads."""
    import pysam

    names = list(chrom_sizes)
    starts, tids = [], []
    for tid, chrom in enumerate(names):
        sub = elements[elements["chrom"] == chrom]
        n = rng.poisson(READS_PER_UNIT * np.clip(sub["dnase"].to_numpy(), 0, None))
        lo = np.repeat(sub["start"].to_numpy(), n)
        hi = np.repeat(np.maximum(sub["end"].to_numpy() - READ_LENGTH, sub["start"].to_numpy() + 1), n)
        element_reads = lo + np.floor(rng.random(n.sum()) * (hi - lo)).astype(np.int64)
        background = rng.integers(0, chrom_sizes[chrom] - READ_LENGTH,
                                  rng.poisson(BACKGROUND_PER_KB * chrom_sizes[chrom] / 1000))
        pos = np.sort(np.concatenate([element_reads, background]))
        starts.append(pos)
        tids.append(np.full(pos.size, tid))
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": c, "LN": int(s)} for c, s in chrom_sizes.items()]}
    total = 0
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for tid_block, pos_block in zip(tids, starts):
            for tid, pos in zip(tid_block.tolist(), pos_block.tolist()):
                read = pysam.AlignedSegment(bam.header)
                read.query_name = f"r{total}"
                read.reference_id, read.reference_start = tid, pos
                read.flag, read.mapping_quality = 0, 60
                read.cigarstring = f"{READ_LENGTH}M"
                read.query_sequence = "A" * READ_LENGTH
                bam.write(read)
                total += 1
    pysam.index(str(path))
    return total


def write_genome_mode_files(out_dir, seed: int, genes: pd.DataFrame, enhancers: pd.DataFrame,
                            activity: dict, chrom_sizes: dict) -> list[str]:
    """Write :data:`GENOME_FILES` into ``out_dir`` (a directory being written atomically).

    Parameters
    ----------
    genes : pandas.DataFrame
        ``chrom tss strand gene start end`` (promoter intervals).
    enhancers : pandas.DataFrame
        ``chrom start end``.
    activity : dict
        ``enhancer_dnase`` (n_enhancers,) and ``promoter_dnase`` (n_genes,) levels.

    Returns
    -------
    list of str
        The file names written.
    """
    from pathlib import Path

    out_dir = Path(out_dir)
    elements = _elements(genes, enhancers, activity)
    write_narrowpeak(out_dir / "peaks.narrowPeak", elements)
    write_gtf(out_dir / "genes.gtf", genes, chrom_sizes)
    write_dnase_bam(out_dir / "dnase.bam", elements, chrom_sizes, np.random.default_rng([int(seed), 7919]))
    return list(GENOME_FILES)
