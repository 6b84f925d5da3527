"""Multi-cell-type CRISPRi benchmarks: one table per cell type, TSS repair, explicit missing scores."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.prioritize import main
from epitools.errors import InputError, UsageError
from epitools.prioritize import crispr
from epitools.prioritize.abc import abc_score, rpm, score_table
from epitools.prioritize.benchmark import benchmark_abc, read_benchmark

TRAINING = "EPCrisprBenchmark_combined_data.training_K562.GRCh38.tsv.gz"


@pytest.fixture
def epitools_log(caplog):
    """caplog that sees ``epitools`` records even after a CLI call stopped their propagation."""
    logger = logging.getLogger("epitools")
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.INFO)
    before = logger.level
    logger.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(before)


# --------------------------------------------------------------------------- unit
def _encode_table(**columns) -> pd.DataFrame:
    n = len(columns["chromStart"])
    base = {"chrom": ["chr1"] * n, "chromEnd": [s + 500 for s in columns["chromStart"]],
            "name": [f"G|chr1:{s}-{s + 500}:*" for s in columns["chromStart"]],
            "measuredGeneSymbol": ["G"] * n, "ValidConnection": ["TRUE"] * n, "CellType": ["K562"] * n}
    return pd.DataFrame({**base, **columns})


def test_tss_zero_repaired_from_distance_column_or_dropped(tmp_path, epitools_log):
    table = _encode_table(chromStart=[1000, 5000, 9000, 20000], startTSS=[10250, 0, 0, np.nan],
                          distanceToTSS=[9000, 4321, np.nan, 777], Regulated=["TRUE", "FALSE", "TRUE", "FALSE"])
    path = tmp_path / "b.tsv"
    table.to_csv(path, sep="\t", index=False)
    bench = read_benchmark(path)
    # row 0 keeps its own TSS; rows 1 and 3 take distanceToTSS; row 2 (positive) has neither
    assert bench["distance"].tolist() == [9000.0, 4321.0, 777.0]
    assert bench["tss"].isna().tolist() == [False, True, True]
    assert "2 pair(s) (0 positive) have no TSS" in epitools_log.text
    assert ("1 pair(s) (1 positive) have no TSS (startTSS 0 or missing) and no distance of their "
            "own: dropped") in epitools_log.text


def test_unknown_cell_type_names_option_and_lists_present(tmp_path):
    path = tmp_path / "b.tsv"
    _encode_table(chromStart=[1000], startTSS=[5000], Regulated=["TRUE"]).to_csv(path, sep="\t", index=False)
    with pytest.raises(UsageError, match=r"--cell-type WTC11.*cell types .*: K562"):
        read_benchmark(path, cell_types=["WTC11"])


def test_abc_zero_denominator_is_zero_with_warning(epitools_log):
    df = pd.DataFrame({"gene": ["A", "A", "B", "B"], "tss": [0, 0, 9, 9], "activity": [0.0, 0.0, 1.0, 3.0],
                       "contact_norm": [0.5, 0.2, 1.0, 1.0], "distance": [10, 20, 30, 40]})
    out = abc_score(df, self_promoters=False)
    np.testing.assert_allclose(out["abc_score"], [0.0, 0.0, 0.25, 0.75])
    assert "1 gene(s) have zero total activity x contact" in epitools_log.text


def test_benchmark_abc_is_per_cell_type():
    bench = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [100, 900, 100, 900], "end": [200, 1000, 200, 1000],
                          "gene": ["G"] * 4, "cell_type": ["K562", "K562", "HCT116", "HCT116"],
                          "distance": [1000.0] * 4})
    activity = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [100, 900, 100, 900], "end": [200, 1000, 200, 1000],
                             "cell_type": ["K562", "K562", "HCT116", "HCT116"], "activity": [1.0, 3.0, 2.0, 2.0]})
    np.testing.assert_allclose(benchmark_abc(bench, activity), [0.25, 0.75, 0.5, 0.5])
    with pytest.raises(UsageError, match="--gamma must be positive"):
        benchmark_abc(bench, activity, gamma=-1)


def test_missing_scores_rank_lowest_or_leave_the_predictor():
    np.testing.assert_allclose(crispr.rank_missing_lowest([0.2, np.nan, 0.5, np.inf]), [0.2, -0.8, 0.5, -0.8])
    assert crispr.rank_missing_lowest([np.nan, np.nan]).tolist() == [0.0, 0.0]
    labels = np.array([1, 0, 1, 0, 0])
    table = crispr.evaluate_predictors(labels, {"partial": np.array([0.9, np.nan, np.nan, 0.1, 0.2])},
                                       np.full(5, 5e4)).iloc[0]
    assert (table["n"], table["positives"], table["AUPRC"]) == (3, 1, 1.0)


def test_value_errors_are_typed():
    with pytest.raises(InputError, match="total read count must be positive"):
        rpm([0, 0, 0])
    pairs = pd.DataFrame({"enhancer_chrom": ["chr1"], "enhancer_start": [0], "enhancer_end": [10],
                          "promoter_chrom": ["chr1"], "promoter_start": [100], "promoter_end": [110],
                          "activity": [1.0], "contact_norm": [1.0]})
    with pytest.raises(UsageError, match="--window must be positive"):
        score_table(pairs, window=0)
    with pytest.raises(UsageError, match="--h3k27ac and --qnorm need --dnase"):
        score_table(pairs, h3k27ac="x.bw")
    assert score_table(pairs)["abc_score"].tolist() == [1.0]


# --------------------------------------------------------------------------- real benchmark
@pytest.fixture
def multicell(shared_data, tmp_path):
    """The real K562 training benchmark made multi-cell: a third of its genes relabelled HCT116,
    20 more pairs with startTSS 0 (beyond the file's own 81), one gene with no activity."""
    table = pd.read_csv(shared_data / "crispr" / TRAINING, sep="\t")
    genes = np.sort(table["measuredGeneSymbol"].unique())
    table.loc[table["measuredGeneSymbol"].isin(genes[::3]), "CellType"] = "HCT116"
    zeroed = table.index[(table["startTSS"] > 0) & (table["CellType"] == "K562")][:20]
    table.loc[zeroed, ["startTSS", "endTSS"]] = 0
    silent = table.loc[table["Regulated"].astype(str).str.upper() == "TRUE", "measuredGeneSymbol"].iloc[0]
    table.loc[table["measuredGeneSymbol"] == silent, ["DHS.RPM", "H3K27ac.RPM"]] = 0.0
    # A predictor that scores only two thirds of the pairs.
    partial = -table["distanceToTSS"].astype(float)
    table["partial_score"] = partial.where(np.arange(len(table)) % 3 != 0)
    path = tmp_path / "multicell.tsv.gz"
    table.to_csv(path, sep="\t", index=False)
    return {"path": path, "table": table, "zeroed": zeroed, "silent": silent}


def _evaluate(args, out):
    res = CliRunner().invoke(main, ["evaluate", *map(str, args), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return res, pd.read_csv(out / "evaluation.tsv", sep="\t"), pd.read_csv(out / "matched.tsv", sep="\t")


@pytest.mark.shared_data
def test_every_cell_type_gets_a_table_and_pooled(multicell, tmp_path):
    path, table = multicell["path"], multicell["table"]
    res, ev, matched = _evaluate(["--benchmark", path, "--activities", path], tmp_path / "ev")
    assert list(dict.fromkeys(ev["cell_type"])) == ["HCT116", "K562", "pooled"]
    for cell in ("HCT116", "K562"):
        assert f"== {cell}: " in res.output
        assert (tmp_path / "ev" / f"pr_curves_{cell}.png").stat().st_size > 1000
    assert (tmp_path / "ev" / "pr_curves.png").is_file()
    n = ev.pivot(index="predictor", columns="cell_type", values="n")
    assert (n["HCT116"] + n["K562"] == n["pooled"]).all()
    assert n.loc["distance (negated)", "pooled"] == len(table)   # every pair kept: 81 + 20 repaired
    # startTSS 0 rows use the benchmark's distanceToTSS, not |centre - 0|
    by_name = matched.set_index(["name", "measuredGeneSymbol", "cell_type"])
    for _, row in table.loc[multicell["zeroed"]].iterrows():
        hit = by_name.loc[(row["name"], row["measuredGeneSymbol"], row["CellType"])]
        assert hit["distance"] == row["distanceToTSS"] and np.isnan(hit["tss"])
    assert "101 pair(s) (" in res.output and "have no TSS" in res.output
    # ABC sums to 1 over each gene's tested elements within its cell type, and is 0 (not NaN)
    # for a gene without activity: the silent one and the real file's own ten
    active = np.sqrt(matched["DHS.RPM"] * matched["H3K27ac.RPM"]) > 0
    per_gene = matched.assign(active=active).groupby(["cell_type", "gene"]).agg(
        abc=(crispr.OUR_ABC, "sum"), active=("active", "any"))
    assert np.allclose(per_gene.loc[per_gene["active"], "abc"], 1.0)
    assert (per_gene.loc[~per_gene["active"], "abc"] == 0).all() and (~per_gene["active"]).sum() >= 11
    assert matched[crispr.OUR_ABC].notna().all()
    assert (matched.loc[matched["gene"] == multicell["silent"], crispr.OUR_ABC] == 0).all()
    assert "gene(s) have zero total activity x contact" in res.output
    assert "--common: 0 of" in res.output
    # a cell type's table does not depend on the others' pairs (ABC's denominators included)
    _, alone, _ = _evaluate(["--benchmark", path, "--activities", path, "--cell-type", "K562"], tmp_path / "k562")
    pd.testing.assert_frame_equal(alone, ev[ev["cell_type"] == "K562"].reset_index(drop=True))


@pytest.mark.shared_data
def test_chosen_cell_types_only(multicell, tmp_path):
    path = multicell["path"]
    res, ev, matched = _evaluate(["--benchmark", path, "--cell-type", "HCT116"], tmp_path / "one")
    assert set(ev["cell_type"]) == {"HCT116"} and set(matched["cell_type"]) == {"HCT116"}
    assert (tmp_path / "one" / "pr_curves.png").is_file()
    res = CliRunner().invoke(main, ["evaluate", "--benchmark", str(path), "--cell-type", "WTC11", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "--cell-type WTC11" in res.output and "HCT116, K562" in res.output


@pytest.mark.shared_data
def test_partial_predictor_under_common_union_and_nan_drop(multicell, tmp_path):
    path, table = multicell["path"], multicell["table"]
    scored = table["partial_score"].notna()
    lost = int((~scored).sum())
    lost_pos = int(table.loc[~scored, "Regulated"].astype(str).str.upper().eq("TRUE").sum())
    args = ["--benchmark", path, "--column", "partial_score"]
    res, ev, _ = _evaluate(args, tmp_path / "common")
    assert f"{lost} of {len(table)} pairs ({lost_pos} of" in res.output
    assert (ev.loc[ev["cell_type"] == "pooled", "n"] == len(table) - lost).all()
    res, ev, _ = _evaluate([*args, "--union"], tmp_path / "union")
    assert f"ranks its {lost} unscored pairs ({lost_pos} positives) below all others" in res.output
    assert (ev.loc[ev["cell_type"] == "pooled", "n"] == len(table)).all()
    res, ev, _ = _evaluate([*args, "--union", "--nan", "drop"], tmp_path / "drop")
    pooled = ev[ev["cell_type"] == "pooled"].set_index("predictor")
    assert pooled.loc["partial_score", "n"] == len(table) - lost
    assert pooled.loc["distance (negated)", "n"] == len(table)
    assert pooled.loc["partial_score", "missing"] == lost
    assert "--nan drop: partial_score is evaluated without its" in res.output
