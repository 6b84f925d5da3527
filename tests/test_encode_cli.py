"""epi-encode: exit codes, messages, no partial output, aliases, window BED input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.encode import main
from epitools.data.encoding import decode_codes
from epitools.io.genome import Genome
from epitools.io.store import open_store
from epitools.training.sources import load_batch
from test_genome import random_chroms, write_fasta


@pytest.fixture
def genome_path(tmp_path):
    path = tmp_path / "g.fa"
    write_fasta(path, random_chroms({"chr1": 8000, "chrM": 500}, seed=5))
    return path


def write_pairs(path, chrom="chr1", n=6):
    starts = np.arange(n) * 600 + 2000
    pd.DataFrame({"enhancer_chrom": chrom, "enhancer_start": starts, "enhancer_end": starts + 100,
                  "promoter_chrom": chrom, "promoter_start": starts + 300,
                  "promoter_end": starts + 400, "label": np.arange(n) % 2}).to_csv(path, sep="\t", index=False)
    return path


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or p.suffix == ".h5")


def test_encode_writes_store_matching_genome(tmp_path, genome_path):
    pairs = write_pairs(tmp_path / "pairs.tsv")
    out = tmp_path / "store.h5"
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(pairs), "--genome", str(genome_path),
                                    "--out", str(out), "--chunk-size", "4"])
    assert res.exit_code == 0, res.output
    rows = open_store(out).read()
    assert rows["enhancer"].shape == (6, 3000) and rows["promoter"].shape == (6, 2000)
    g = Genome(genome_path)
    mid = 2000 + 600 * 5 + 50
    assert decode_codes(rows["enhancer"][5]) == decode_codes(g.fetch_codes("chr1", mid - 1500, mid + 1500))
    assert load_batch(out, [5])["promoter"].shape == (1, 4, 2000)
    assert "encoded 6 pairs" in res.output


def test_bad_pairs_file_exits_2_without_output(tmp_path, genome_path):
    pairs = write_pairs(tmp_path / "pairs.tsv")
    text = pairs.read_text().splitlines()
    text[3] = text[3].replace("\t3200\t", "\tabc\t", 1)
    pairs.write_text("\n".join(text) + "\n")
    out = tmp_path / "store.h5"
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(pairs), "--genome", str(genome_path),
                                    "--out", str(out), "--chunk-size", "2"])
    assert res.exit_code == 2, res.output
    assert "pairs.tsv" in res.output and "line 4" in res.output and "enhancer_start" in res.output
    assert leftovers(tmp_path) == []


def test_unknown_chromosome_exits_2_without_output(tmp_path, genome_path):
    pairs = write_pairs(tmp_path / "pairs.tsv", chrom="chr7")
    out = tmp_path / "store.h5"
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(pairs), "--genome", str(genome_path),
                                    "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "'chr7'" in res.output and "known: chr1, chrM" in res.output
    assert "pairs.tsv" in res.output and "enhancer_chrom" in res.output
    assert leftovers(tmp_path) == []


def test_alias_reported_once_in_run(tmp_path, genome_path):
    pairs = write_pairs(tmp_path / "pairs.tsv", chrom="1", n=8)
    out = tmp_path / "store.h5"
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(pairs), "--genome", str(genome_path), "--out",
                                    str(out), "--chunk-size", "3", "--enhancer-length", "500",
                                    "--promoter-length", "400", "--augment-copies", "2", "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert res.output.count("is called 'chr1'") == 1
    store = open_store(out)
    assert len(store) == 8 + 2 * 4
    assert store.attrs["chromosome_aliases"] == '{"1": "chr1"}'


def test_window_beds_with_labels(tmp_path, genome_path):
    # 1-based inclusive windows, as in the TargetFinder/EPINTLM window files
    (tmp_path / "enh.bed").write_text("1\tchr1\t1001\t1300\n0\tchr1\t3001\t3300\n")
    (tmp_path / "pro.bed").write_text("1\tchr1\t2001\t2200\n0\tchr1\t5001\t5200\n")
    (tmp_path / "labels.txt").write_text("1\n0\n")
    out = tmp_path / "w.h5"
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(tmp_path / "enh.bed"), "--promoter-bed",
                                    str(tmp_path / "pro.bed"), "--labels", str(tmp_path / "labels.txt"),
                                    "--genome", str(genome_path), "--out", str(out),
                                    "--enhancer-length", "300", "--promoter-length", "200"])
    assert res.exit_code == 0, res.output
    rows = open_store(out).read()
    g = Genome(genome_path)
    assert decode_codes(rows["enhancer"][0]) == decode_codes(g.fetch_codes("chr1", 1000, 1300))
    assert rows["label"].tolist() == [1, 0]


def test_usage_errors_exit_2(tmp_path, genome_path):
    out = tmp_path / "x.h5"
    res = CliRunner().invoke(main, ["pairs", "--genome", str(genome_path), "--out", str(out)])
    assert res.exit_code == 2 and "--pairs" in res.output
    genes = tmp_path / "genes.tsv"
    genes.write_text("x\n")
    res = CliRunner().invoke(main, ["genes", "--genes", str(genes), "--genome", str(genome_path), "--out", str(out)])
    assert res.exit_code == 2 and "--elements" in res.output
    assert not out.exists()


def _genes_inputs(tmp_path):
    genes = tmp_path / "genes.tsv"
    pd.DataFrame({"gene": ["A", "B"], "chrom": "chr1", "tss": [3000, 6000], "expression": [5.0, 7.0]}
                 ).to_csv(genes, sep="\t", index=False)
    elements = tmp_path / "elements.bed"
    pd.DataFrame({"chrom": "chr1", "start": [1000, 4500], "end": [1200, 4700], "name": ["e1", "e2"],
                  "dnase": 1.0, "h3k27ac": 2.0}).to_csv(elements, sep="\t", index=False)
    return genes, elements


def test_expression_file_sets_gene_targets(tmp_path, genome_path):
    import h5py

    genes, elements = _genes_inputs(tmp_path)
    expression = tmp_path / "rna.tsv"
    expression.write_text("gene\texpression\tsource\nB\t1.5\tx\nZ\t2\ty\n")
    out = tmp_path / "genes.h5"
    res = CliRunner().invoke(main, ["genes", "--genes", str(genes), "--elements", str(elements), "--genome",
                                    str(genome_path), "--expression", str(expression), "--enhancer-length",
                                    "200", "--promoter-length", "200", "--out", str(out)])
    assert res.exit_code == 0, res.output
    with h5py.File(out) as h5:
        np.testing.assert_allclose(h5["expression_raw"][:], [np.nan, 1.5])


def test_bad_expression_file_exits_2_naming_line(tmp_path, genome_path):
    genes, elements = _genes_inputs(tmp_path)
    expression = tmp_path / "rna.tsv"
    expression.write_text("gene\texpression\nA\t1\nA\t2\n")
    out = tmp_path / "genes.h5"
    args = ["genes", "--genes", str(genes), "--elements", str(elements), "--genome", str(genome_path),
            "--expression", str(expression), "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "rna.tsv" in res.output and "line 3" in res.output and "gene" in res.output
    assert leftovers(tmp_path) == []
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(write_pairs(tmp_path / "p.tsv")), "--genome",
                                    str(genome_path), "--expression", str(expression), "--out", str(out)])
    assert res.exit_code == 2 and "--expression" in res.output and not out.exists()


def test_old_call_form_is_an_alias_with_a_deprecation_note(tmp_path, genome_path):
    pairs = write_pairs(tmp_path / "pairs.tsv")
    new, old = tmp_path / "new.h5", tmp_path / "old.h5"
    common = ["--genome", str(genome_path), "--enhancer-length", "300", "--promoter-length", "200"]
    assert CliRunner().invoke(main, ["pairs", "--pairs", str(pairs), *common, "-o", str(new)]).exit_code == 0
    res = CliRunner().invoke(main, ["--pairs", str(pairs), *common, "-o", str(old)])
    assert res.exit_code == 0, res.output
    assert "deprecated" in res.output and "epi-encode pairs --pairs" in res.output
    a, b = open_store(new).read(), open_store(old).read()
    for name in ("enhancer", "promoter", "label"):
        np.testing.assert_array_equal(a[name], b[name])
    genes, elements = _genes_inputs(tmp_path)
    res = CliRunner().invoke(main, ["--genes", str(genes), "--elements", str(elements), "--genome",
                                    str(genome_path), "--enhancer-length", "200", "--promoter-length", "200",
                                    "-o", str(tmp_path / "genes.h5")])
    assert res.exit_code == 0, res.output


def test_options_of_the_other_store_kind_are_refused(tmp_path, genome_path):
    """No option is silently ignored: pair-store options are not options of `genes`, and back."""
    genes, elements = _genes_inputs(tmp_path)
    out = tmp_path / "genes.h5"
    base = ["genes", "--genes", str(genes), "--elements", str(elements), "--genome", str(genome_path),
            "-o", str(out)]
    for extra in (["--encoding", "kmer"], ["--k", "5"], ["--augment-copies", "3"], ["--pairs", str(genes)]):
        res = CliRunner().invoke(main, base + extra)
        assert res.exit_code == 2 and extra[0] in res.output, (extra, res.output)
    assert not out.exists()
    pairs = write_pairs(tmp_path / "pairs.tsv")
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(pairs), "--genome", str(genome_path), "--k", "5",
                                    "-o", str(out)])
    assert res.exit_code == 2 and "--k goes with --encoding kmer" in res.output
    res = CliRunner().invoke(main, ["pairs", "--pairs", str(pairs), "--genome", str(genome_path),
                                    "--encoding", "kmer", "--k", "5", "--enhancer-length", "4", "-o", str(out)])
    assert res.exit_code == 2 and "--enhancer-length" in res.output
    assert not out.exists()


def test_genes_compression_option(tmp_path, genome_path):
    import h5py

    genes, elements = _genes_inputs(tmp_path)
    out = tmp_path / "genes.h5"
    res = CliRunner().invoke(main, ["genes", "--genes", str(genes), "--elements", str(elements), "--genome",
                                    str(genome_path), "--enhancer-length", "200", "--promoter-length", "200",
                                    "--compression", "gzip", "--chunk-size", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    with h5py.File(out) as h5:
        assert h5["enhancers"].compression == "gzip" and h5.attrs["enhancer_length"] == 200
