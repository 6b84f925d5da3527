"""CRISPRi benchmark evaluation (epi-prioritize evaluate) on the Fulco 2019 / Nasser 2021 data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.prioritize import main
from epitools.prioritize import crispr
from epitools.prioritize.benchmark import match_predictions


def test_match_predictions_by_overlap_and_gene():
    bench = pd.DataFrame({"chrom": ["chr1", "chr1", "chr1"], "start": [100, 500, 100], "end": [200, 600, 200],
                          "gene": ["A", "A", "B"]})
    pred = pd.DataFrame({"chr": ["chr1"] * 4, "start": [150, 180, 550, 0], "end": [160, 400, 560, 50],
                         "TargetGene": ["A", "A", "C", "B"], "ABC.Score": [0.1, 0.3, 0.9, 0.5]})
    np.testing.assert_allclose(match_predictions(bench, pred, "ABC.Score"), [0.3, np.nan, np.nan])
    np.testing.assert_allclose(match_predictions(bench, pred, "ABC.Score", "sum")[:1], [0.4])


def test_evaluate_predictors_bins():
    labels = np.array([1, 0, 1, 0, 0, 1])
    dist = np.array([5e3, 6e3, 5e4, 6e4, 2e5, 3e5])
    table = crispr.evaluate_predictors(labels, {"perfect": labels * 1.0, "neg": -dist}, dist)
    perfect = table.set_index("predictor").loc["perfect"]
    assert perfect["AUPRC"] == 1.0 and perfect["AUPRC_>100kb"] == 1.0
    assert table.set_index("predictor").loc["neg", "positives"] == 3


@pytest.mark.shared_data
def test_evaluate_fulco_with_published_and_own_abc(shared_data, tmp_path):
    c = shared_data / "crispr"
    res = CliRunner().invoke(main, [
        "evaluate", "--benchmark", str(c / "EPCrisprBenchmark_Fulco2019_K562_GRCh38.tsv.gz"),
        "--published", str(c / "Nasser2021_CRISPR_compendium_hg19.txt.gz"),
        "--predictions", str(c / "ABC_K562_Fulco2019Genes_GRCh38.tsv.gz"),
        "--activities", str(c / "EPCrisprBenchmark_combined_data.training_K562.GRCh38.tsv.gz"),
        "-o", str(tmp_path / "ev"), "-q"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "ev" / "evaluation.tsv", sep="\t").set_index("predictor")
    assert {"published ABC.ABC.Score", "ABC (ours: activity x power law)", "distance (negated)"} <= set(table.index)
    assert table["n"].nunique() == 1 and table["n"].iloc[0] > 3000  # one table, same pairs
    # published results: ABC far above distance on the Fulco 2019 K562 pairs
    assert table.loc["published ABC.ABC.Score", "AUPRC"] > 0.5
    assert table.loc["ABC (ours: activity x power law)", "AUPRC"] > table.loc["distance (negated)", "AUPRC"] + 0.15
    assert {"AUPRC_0-10kb", "AUPRC_10-100kb", "AUPRC_>100kb", "precision_at_70pct_recall"} <= set(table.columns)
    assert (tmp_path / "ev" / "pr_curves.png").stat().st_size > 1000
    matched = pd.read_csv(tmp_path / "ev" / "matched.tsv", sep="\t")
    # 3,852 valid pairs; the 81 of C19orf43 have no TSS and the benchmark no distance column
    assert len(matched) == 3852 - 81 and matched["label"].sum() == 101


@pytest.mark.shared_data
def test_evaluate_nasser_own_columns(shared_data, tmp_path):
    path = shared_data / "crispr" / "Nasser2021_CRISPR_compendium_hg19.txt.gz"
    res = CliRunner().invoke(main, ["evaluate", "--benchmark", str(path), "--column", "ABC.ABC.Score",
                                    "--column", "TargetFinder.TargetFinder_prediction", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "evaluation.tsv", sep="\t")
    k562 = table[table["cell_type"] == "K562"].set_index("predictor")
    assert k562.loc["ABC.ABC.Score", "n"] == 3854 and k562.loc["ABC.ABC.Score", "positives"] == 103
    assert k562.loc["ABC.ABC.Score", "AUPRC"] > k562.loc["distance (negated)", "AUPRC"]
    # TargetFinder scores only K562 pairs: --common says so and leaves the other cell types out
    assert "561 of 4415 pairs (97 of 200 positives) dropped" in res.output
    assert set(table["cell_type"]) == {"K562"} and "pooled" not in res.output


@pytest.mark.shared_data
def test_evaluate_nasser_every_cell_type_with_union(shared_data, tmp_path):
    path = shared_data / "crispr" / "Nasser2021_CRISPR_compendium_hg19.txt.gz"
    res = CliRunner().invoke(main, ["evaluate", "--benchmark", str(path), "--column", "ABC.ABC.Score",
                                    "--column", "TargetFinder.TargetFinder_prediction", "--union",
                                    "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "evaluation.tsv", sep="\t")
    # cell types whose pairs are all positive (NCCIT, LNCAP) cannot be ranked: no table
    assert {"K562", "GM12878", "Jurkat", "THP1", "pooled"} <= set(table["cell_type"])
    assert not {"NCCIT", "LNCAP"} & set(table["cell_type"])
    pooled = table[table["cell_type"] == "pooled"].set_index("predictor")
    assert pooled.loc["ABC.ABC.Score", "n"] == 4415 and pooled.loc["ABC.ABC.Score", "positives"] == 200
    assert pooled.loc["TargetFinder.TargetFinder_prediction", "missing"] == 561
    assert "ranks its 561 unscored pairs (97 positives) below all others" in res.output
    assert (tmp_path / "pr_curves_GM12878.png").is_file() and (tmp_path / "pr_curves.png").is_file()
    for cell in ("== K562: 3854 pairs, 103 positive ==", "== GM12878:", "== pooled: 4415 pairs"):
        assert cell in res.output


def test_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    res = CliRunner().invoke(main, ["evaluate", "--benchmark", str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not a CRISPR benchmark" in res.output
    assert not (tmp_path / "o" / "evaluation.tsv").exists()
    res = CliRunner().invoke(main, ["evaluate", "--benchmark", str(tmp_path / "missing.tsv"), "-o", str(tmp_path)])
    assert res.exit_code == 2


def test_unreadable_tables_exit_2(tmp_path):
    broken = tmp_path / "bench.tsv.gz"
    broken.write_bytes(b"not gzip at all")
    res = CliRunner().invoke(main, ["evaluate", "--benchmark", str(broken), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "bench.tsv.gz" in res.output and "gzip" in res.output
    bench = tmp_path / "bench.tsv"
    pd.DataFrame({"chrom": ["chr1", "chr1"], "chromStart": [100, 900], "chromEnd": [200, 1000],
                  "measuredGeneSymbol": ["G", "G"], "startTSS": [5000, 5000],
                  "Regulated": ["TRUE", "FALSE"]}).to_csv(bench, sep="\t", index=False)
    pred = tmp_path / "pred.tsv"
    pred.write_text("chr\tstart\tend\tTargetGene\n")
    res = CliRunner().invoke(main, ["evaluate", "--benchmark", str(bench), "--predictions", str(pred), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no score column" in res.output and "--score-column" in res.output
