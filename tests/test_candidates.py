"""epi-candidates: candidate regions (ABC's makeCandidateRegions), genes, activity and pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.errors import InputError
from epitools.regions.activity import element_classes
from epitools.regions.genes import filter_biotypes, join_expression_by_id_or_symbol, read_annotation
from epitools.regions.intervals import merge_intervals, overlap_counts, overlaps_any
from epitools.regions.pairs import chromosome_pairs
from epitools.regions.peaks import candidate_regions, peak_column_strength, read_peaks, read_regions


@pytest.fixture(scope="module")
def abc_dir(shared_data):
    return shared_data / "abc" / "K562_chr22_hg38"


def _bed(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


# --------------------------------------------------------------------------- intervals, regions
def test_merge_joins_overlapping_and_touching_and_keeps_max():
    df = _bed([("chr2", 5, 8), ("chr1", 10, 20), ("chr1", 20, 25), ("chr1", 12, 14), ("chr1", 26, 30)])
    df["v"] = [1.0, 3.0, 5.0, 9.0, 2.0]
    got = merge_intervals(df, value="v")
    assert got.values.tolist() == [["chr1", 10, 25, 9.0], ["chr1", 26, 30, 2.0], ["chr2", 5, 8, 1.0]]
    assert merge_intervals(df, order=["chr2", "chr1"])["chrom"].tolist() == ["chr2", "chr1", "chr1"]
    query = _bed([("chr1", 0, 10), ("chr1", 24, 26), ("chr2", 8, 9), ("chr3", 0, 100)])
    assert overlaps_any(query, df).tolist() == [False, True, False, False]
    np.testing.assert_array_equal(overlap_counts([0, 5, 9], [6, 10, 12], [4, 10, 12], [9, 11, 20]), [2, 1, 0])


def test_candidate_steps_top_n_summits_clip_block_include():
    peaks = pd.DataFrame({"chrom": ["c1", "c1", "c1", "c2"], "start": [100, 150, 5000, 10],
                          "end": [300, 400, 5200, 60], "summit": [200, 390, 5100, 30]})
    strength = np.array([1.0, 7.0, 2.0, 5.0])
    regions, steps = candidate_regions(peaks, strength, n_strongest=2, extend=50, chrom_sizes={"c1": 10_000, "c2": 70})
    # peaks 1+2 merge (strength 7) and c2's peak (5) are the two strongest; c1:5000 is dropped
    assert regions.values.tolist() == [["c1", 150, 250], ["c1", 340, 440], ["c2", 0, 70]]
    assert steps.counts["merged peaks"] == 3 and steps.counts["peaks in the strongest"] == 3
    blocked, _ = candidate_regions(peaks, strength, n_strongest=2, extend=50, block=_bed([("c1", 430, 431)]),
                                   include=_bed([("c1", 9000, 9100), ("c9", 0, 5)]), chrom_sizes={"c1": 10_000, "c2": 70})
    assert blocked.values.tolist() == [["c1", 150, 250], ["c1", 9000, 9100], ["c2", 0, 70]]
    wide, _ = candidate_regions(peaks.iloc[:1], [1.0], extend=10, min_width=500, ignore_summits=True)
    assert wide.values.tolist() == [["c1", 0, 450]]  # 90-310 widened to -50-450, clipped at 0


@pytest.mark.shared_data
def test_regions_reproduce_abc_candidate_regions(abc_dir):
    """ABC's K562 chr22 candidateRegions.bed from its MACS2 peaks and TSS include-list.

    ABC's run also removed GRCh38_unified_blacklist.bed, which shared data lacks: the only
    differences are 16 merged windows that list would remove, and one include-list region it
    restores inside a removed window; blocking exactly those 16 reproduces the file."""
    peaks = read_peaks(abc_dir / "macs2_peaks.narrowPeak.sorted.gz")
    include = read_regions(abc_dir / "RefSeqCurated.CollapsedGeneBounds.chr22.hg38.TSS500bp.bed")
    reference = pd.read_csv(abc_dir / "candidateRegions.bed", sep="\t", header=None, names=["chrom", "start", "end"])
    assert len(peaks) == 26612 and len(reference) == 17732
    ours, steps = candidate_regions(peaks, peak_column_strength(peaks, "signal"), n_strongest=150_000,
                                    extend=250, include=include)
    assert steps.counts["strongest merged peaks (n <= 150000)"] == steps.counts["merged peaks"]
    both = ours.merge(reference, how="outer", indicator=True)
    extra, missing = both[both["_merge"] == "left_only"], both[both["_merge"] == "right_only"]
    assert (both["_merge"] == "both").sum() == 17731 and len(extra) == 16 and len(missing) == 1
    assert missing[["chrom", "start", "end"]].merge(include).shape[0] == 1  # restored by the include-list
    assert extra[["chrom", "start", "end"]].merge(include).empty
    again, _ = candidate_regions(peaks, peak_column_strength(peaks, "signal"), include=include,
                                 block=extra[["chrom", "start", "end"]])
    pd.testing.assert_frame_equal(again, reference)


def test_regions_command_and_bad_peaks(simulated, tmp_path):
    from epitools.cli.candidates import main

    out = tmp_path / "cand.bed"
    res = CliRunner().invoke(main, ["regions", "--peaks", str(simulated / "peaks.narrowPeak"), "--signal",
                                    str(simulated / "dnase.bam"), "--chrom-sizes", str(simulated / "chrom.sizes"),
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "candidate regions" in res.output
    regions = pd.read_csv(out, sep="\t", header=None, names=["chrom", "start", "end"])
    assert len(regions) > 50 and (regions["end"] > regions["start"]).all()
    bad = tmp_path / "bad.narrowPeak"
    bad.write_text("chr1\t10\t20\tp\t0\t.\t1\t1\t1\t5\nchr1\tx\t30\tp\t0\t.\t1\t1\t1\t5\n")
    res = CliRunner().invoke(main, ["regions", "--peaks", str(bad), "-o", str(tmp_path / "x.bed")])
    assert res.exit_code == 2 and "line 2" in res.output and "start" in res.output
    with pytest.raises(InputError, match="no 'qvalue'"):
        peak_column_strength(read_peaks(out), "qvalue")


# --------------------------------------------------------------------------- genes
GENCODE_GTF = """##description: test
chr1\tHAVANA\tgene\t1001\t2000\t.\t+\t.\tgene_id "ENSG01.3"; gene_type "protein_coding"; gene_name "AAA";
chr1\tHAVANA\ttranscript\t1201\t2000\t.\t+\t.\tgene_id "ENSG01.3"; transcript_id "ENST1"; gene_type "protein_coding"; gene_name "AAA";
chr1\tHAVANA\texon\t1201\t1300\t.\t+\t.\tgene_id "ENSG01.3"; transcript_id "ENST1"; gene_type "protein_coding"; gene_name "AAA";
chr1\tHAVANA\tgene\t5001\t9000\t.\t-\t.\tgene_id "ENSG02.1"; gene_type "protein_coding"; gene_name "BBB";
chr2\tHAVANA\tgene\t101\t900\t.\t+\t.\tgene_id "ENSG03.1"; gene_type "lncRNA"; gene_name "CCC";
"""
ENSEMBL_GFF3 = """##gff-version 3
1\tensembl\tgene\t1001\t2000\t.\t+\t.\tID=gene:ENSG01;Name=AAA;biotype=protein_coding;gene_id=ENSG01
1\tensembl\tmRNA\t1001\t2000\t.\t+\t.\tID=transcript:ENST1;Parent=gene:ENSG01;biotype=protein_coding
1\tensembl\texon\t1001\t1100\t.\t+\t.\tParent=transcript:ENST1
1\tensembl\tncRNA_gene\t5001\t9000\t.\t-\t.\tID=gene:ENSG02;Name=BBB;biotype=lncRNA;gene_id=ENSG02
"""
NCBI_GFF3 = """##gff-version 3
NC_1\tRefSeq\tgene\t11\t500\t.\t-\t.\tID=gene-AAA;Name=AAA;gene=AAA;gene_biotype=protein_coding
NC_1\tRefSeq\tmRNA\t11\t400\t.\t-\t.\tID=rna-NM_1;Parent=gene-AAA;gene=AAA
"""
UCSC_GTF = """chr1\trefGene\ttranscript\t1001\t2000\t.\t+\t.\tgene_id "AAA"; transcript_id "NM_001";
chr1\trefGene\texon\t1001\t1100\t.\t+\t.\tgene_id "AAA"; transcript_id "NM_001";
chr1\trefGene\ttranscript\t901\t1800\t.\t+\t.\tgene_id "AAA"; transcript_id "NM_002";
chr1\trefGene\ttranscript\t5001\t6000\t.\t-\t.\tgene_id "MIR1"; transcript_id "NR_003";
"""


@pytest.mark.parametrize("text, suffix, expected", [
    (GENCODE_GTF, ".gtf", [("AAA", "chr1", 1000, "+", "ENSG01.3", "protein_coding"),
                           ("BBB", "chr1", 8999, "-", "ENSG02.1", "protein_coding"),
                           ("CCC", "chr2", 100, "+", "ENSG03.1", "lncRNA")]),
    (ENSEMBL_GFF3, ".gff3", [("AAA", "1", 1000, "+", "ENSG01", "protein_coding"),
                             ("BBB", "1", 8999, "-", "ENSG02", "lncRNA")]),
    (NCBI_GFF3, ".gff3.gz", [("AAA", "NC_1", 499, "-", "gene-AAA", "protein_coding")]),
    (UCSC_GTF, ".gtf", [("AAA", "chr1", 900, "+", "AAA", "protein_coding"),
                        ("MIR1", "chr1", 5999, "-", "MIR1", "ncRNA")]),
])
def test_annotations_give_one_tss_per_gene(tmp_path, text, suffix, expected):
    import gzip

    path = tmp_path / f"genes{suffix}"
    if suffix.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    genes = read_annotation(path)
    got = list(genes[["gene", "chrom", "tss", "strand", "gene_id", "biotype"]].itertuples(index=False, name=None))
    assert got == expected


def test_bed_genes_biotype_filter_expression_join_and_cli(tmp_path):
    from epitools.cli.candidates import main
    from epitools.io.genes import read_genes

    gtf = tmp_path / "g.gtf"
    gtf.write_text(GENCODE_GTF)
    genes = read_annotation(gtf)
    assert filter_biotypes(genes, ["protein_coding"])["gene"].tolist() == ["AAA", "BBB"]
    expression = pd.Series([5.0, 2.0, 9.0], index=["ENSG01", "BBB", "NOPE"])
    joined, counts = join_expression_by_id_or_symbol(genes, expression)
    assert joined["expression"].tolist()[:2] == [5.0, 2.0] and np.isnan(joined["expression"].iloc[2])
    assert counts == {"matched_by_id": 1, "matched_by_symbol": 1, "genes_without_value": 1,
                      "expression_rows_unmatched": 1}
    bed = tmp_path / "g.bed"
    bed.write_text("chr1\t100\t200\tX\t0\t-\tENSG9\tprotein_coding\nchr1\t300\t400\tY\t0\t+\tENSG8\tlincRNA\n")
    assert read_annotation(bed)[["gene", "tss", "biotype"]].values.tolist() == [["X", 199, "protein_coding"],
                                                                               ["Y", 300, "lincRNA"]]
    table = tmp_path / "expr.tsv"
    table.write_text("gene\texpression\nENSG01.3\t4\nCCC\t1\n")
    out = tmp_path / "genes.tsv"
    res = CliRunner().invoke(main, ["genes", "--annotation", str(gtf), "--biotype", "all", "--expression",
                                    str(table), "-o", str(out)])
    assert res.exit_code == 0, res.output
    written = read_genes(out)
    assert written["gene"].tolist() == ["AAA", "BBB", "CCC"] and written["expression"].iloc[0] == 4.0
    assert "1 genes matched by id, 1 by symbol; 1 genes without a value" in res.output


@pytest.mark.shared_data
def test_element_classes_as_abc_assigns_them(abc_dir):
    elements = pd.read_csv(abc_dir / "EnhancerList.bed.gz", sep="\t", header=None,
                           names=["chrom", "start", "end", "name"])
    genes = read_annotation(abc_dir / "GeneList.txt.gz")
    classes = element_classes(elements, genes)
    np.testing.assert_array_equal(classes, elements["name"].str.split("|").str[0].to_numpy())


# --------------------------------------------------------------------------- activity
def _bam(path, reads, chrom_sizes):
    import pysam

    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": n} for c, n in chrom_sizes.items()]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for name, tid, pos, flag in sorted(reads, key=lambda r: (r[1], r[2])):
            read = pysam.AlignedSegment(bam.header)
            read.query_name, read.reference_id, read.reference_start, read.flag = name, tid, pos, flag
            read.mapping_quality, read.cigarstring, read.query_sequence = 60, "20M", "A" * 20
            if flag & 1:
                read.next_reference_id, read.next_reference_start = tid, pos
            bam.write(read)
    pysam.index(str(path))


def test_bam_counts_fragments_once_and_bigwig_sums(tmp_path):
    from epitools.io.tracks import write_bigwig
    from epitools.regions.counts import element_counts

    sizes = {"chr1": 10_000, "chrX": 5000}
    reads = [("p1", 0, 100, 1 | 2 | 64), ("p1", 0, 150, 1 | 2 | 128),   # both mates in element 0
             ("p2", 0, 180, 1 | 2 | 64), ("p2", 0, 900, 1 | 2 | 128),   # one mate in element 0
             ("p3", 0, 120, 1 | 2 | 64 | 256),                          # secondary: skipped
             ("p4", 0, 130, 1 | 2 | 64 | 1024), ("p4", 0, 140, 1 | 2 | 128 | 1024),  # duplicates count
             ("p5", 1, 10, 1 | 2 | 64), ("p5", 1, 40, 1 | 2 | 128)]
    _bam(tmp_path / "r.bam", reads, sizes)
    elements = _bed([("chr1", 90, 200), ("chr1", 2000, 3000), ("chrX", 0, 100), ("chr9", 0, 10)])
    counts, total = element_counts(elements, tmp_path / "r.bam")
    np.testing.assert_array_equal(counts, [3, 0, 2, 0])  # chrX doubled as ABC does
    assert total == 4.5  # the index counts 9 mapped records (secondary too, as idxstats), halved
    counts, _ = element_counts(elements, tmp_path / "r.bam", double_sex=False)
    assert counts[2] == 1
    write_bigwig(pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [100, 150], "end": [120, 160],
                               "value": [2.0, 1.0]}), tmp_path / "s.bw", sizes)
    signal, total = element_counts(elements.iloc[:2], tmp_path / "s.bw", double_sex=False)
    np.testing.assert_allclose(signal, [50.0, 0.0])  # exact sum: 20 x 2 + 10 x 1, gaps count 0
    assert total == pytest.approx(50.0)
    unindexed = tmp_path / "u.bam"
    unindexed.write_bytes((tmp_path / "r.bam").read_bytes())
    with pytest.raises(InputError, match="not indexed"):
        element_counts(elements, unindexed)


def test_candidates_chain_on_simulated_files(simulated, tmp_path):
    from epitools.cli.candidates import main
    from epitools.io.genes import read_elements, read_genes
    from epitools.io.pairs import read_pairs

    run = CliRunner()
    sizes = ["--chrom-sizes", str(simulated / "chrom.sizes")]
    steps = [["regions", "--peaks", str(simulated / "peaks.narrowPeak"), *sizes, "-o", str(tmp_path / "c.bed")],
             ["genes", "--annotation", str(simulated / "genes.gtf"), "-o", str(tmp_path / "g.tsv")],
             ["activity", "--elements", str(tmp_path / "c.bed"), "--dnase", str(simulated / "dnase.bam"),
              "--h3k27ac", str(simulated / "h3k27ac.bw"), "--genes", str(tmp_path / "g.tsv"), *sizes,
              "-o", str(tmp_path / "e.bed")],
             ["pairs", "--elements", str(tmp_path / "e.bed"), "--genes", str(tmp_path / "g.tsv"),
              "--max-distance", "100000", "-o", str(tmp_path / "p.tsv")]]
    for argv in steps:
        res = run.invoke(main, argv)
        assert res.exit_code == 0, (argv[0], res.output)
    genes = read_genes(tmp_path / "g.tsv")
    planted = pd.read_csv(simulated / "genes.tsv", sep="\t")
    assert genes[["gene", "tss", "strand"]].values.tolist() == planted[["gene", "tss", "strand"]].values.tolist()
    elements = read_elements(tmp_path / "e.bed")
    assert {"activity", "class"} <= set(elements.columns)
    assert (pd.to_numeric(elements["activity"]) > 0).mean() > 0.9 and (elements["dnase"] > 0).mean() > 0.9
    assert (elements["class"] == "promoter").sum() >= len(genes)  # every simulated promoter is a peak
    pairs = read_pairs(tmp_path / "p.tsv")
    assert (pairs["distance"] < 100_000).all() and pairs.groupby("gene")["is_self_promoter"].any().all()
    res = run.invoke(main, ["activity", "--elements", str(tmp_path / "c.bed"), "-o", str(tmp_path / "x.bed")])
    assert res.exit_code == 2 and "exactly one of --dnase and --atac" in res.output


def test_pairs_match_brute_force():
    rng = np.random.default_rng(1)
    start = np.sort(rng.integers(0, 1_000_000, 300))
    elements = pd.DataFrame({"chrom": "c", "start": start, "end": start + rng.integers(100, 2000, 300),
                             "class": np.where(rng.random(300) < 0.2, "promoter", "genic")})
    genes = pd.DataFrame({"gene": [f"g{i}" for i in range(40)], "chrom": "c",
                          "tss": rng.integers(0, 1_000_000, 40)})
    got = chromosome_pairs(elements, genes, max_distance=50_000)
    mid = (elements["start"] + elements["end"]).to_numpy() / 2
    want = {(g, i) for g, t in zip(genes["gene"], genes["tss"]) for i in np.flatnonzero(np.abs(mid - t) < 50_000)}
    index = {(s, e): i for i, (s, e) in enumerate(zip(elements["start"], elements["end"]))}
    have = {(g, index[(s, e)]) for g, s, e in zip(got["gene"], got["enhancer_start"], got["enhancer_end"])}
    assert have == want and len(got) == len(want) and got["pair_id"].is_unique
    self_promoter = (got["class"] == "promoter") & (got["enhancer_start"] - 500 < got["tss"]) & \
        (got["enhancer_end"] + 500 > got["tss"])
    np.testing.assert_array_equal(got["is_self_promoter"], self_promoter)
