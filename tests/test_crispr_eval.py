"""CRISPRi benchmark evaluation (epi-prioritize evaluate) on the Fulco 2019 / Nasser 2021 data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.prioritize import main
from epitools.prioritize import crispr


def test_match_predictions_by_overlap_and_gene():
    bench = pd.DataFrame({"chrom": ["chr1", "chr1", "chr1"], "start": [100, 500, 100], "end": [200, 600, 200],
                          "gene": ["A", "A", "B"]})
    pred = pd.DataFrame({"chr": ["chr1"] * 4, "start": [150, 180, 550, 0], "end": [160, 400, 560, 50],
                         "TargetGene": ["A", "A", "C", "B"], "ABC.Score": [0.1, 0.3, 0.9, 0.5]})
    np.testing.assert_allclose(crispr.match_predictions(bench, pred, "ABC.Score"), [0.3, np.nan, np.nan])
    np.testing.assert_allclose(crispr.match_predictions(bench, pred, "ABC.Score", "sum")[:1], [0.4])


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
        "evaluate", "-b", str(c / "EPCrisprBenchmark_Fulco2019_K562_GRCh38.tsv.gz"),
        "--published", str(c / "Nasser2021_CRISPR_compendium_hg19.txt.gz"),
        "-p", str(c / "ABC_K562_Fulco2019Genes_GRCh38.tsv.gz"),
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
    assert len(matched) == 3852 and matched["label"].sum() == 101


@pytest.mark.shared_data
def test_evaluate_nasser_own_columns(shared_data, tmp_path):
    path = shared_data / "crispr" / "Nasser2021_CRISPR_compendium_hg19.txt.gz"
    res = CliRunner().invoke(main, ["evaluate", "-b", str(path), "--column", "ABC.ABC.Score",
                                    "--column", "TargetFinder.TargetFinder_prediction", "-o", str(tmp_path), "-q"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "evaluation.tsv", sep="\t").set_index("predictor")
    assert table.loc["ABC.ABC.Score", "n"] == 3854 and table.loc["ABC.ABC.Score", "positives"] == 103
    assert table.loc["ABC.ABC.Score", "AUPRC"] > table.loc["distance (negated)", "AUPRC"]


def test_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    res = CliRunner().invoke(main, ["evaluate", "-b", str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not a CRISPR benchmark" in res.output
    assert not (tmp_path / "o" / "evaluation.tsv").exists()
    res = CliRunner().invoke(main, ["evaluate", "-b", str(tmp_path / "missing.tsv"), "-o", str(tmp_path)])
    assert res.exit_code == 2
