"""The links table: ABC, EPInformer and pair-model scores joined by (element, gene), ranked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.prioritize import main as prioritize
from epitools.errors import InputError
from epitools.io.pairs import read_pairs
from epitools.prioritize.links import build_links

KEY = ["enhancer_chrom", "enhancer_start", "enhancer_end", "gene"]


@pytest.fixture(scope="module")
def inputs(simulated, tmp_path_factory):
    """ABC output of the tiny simulation, a gene-less pair-model table and an EPInformer-like one."""
    out = tmp_path_factory.mktemp("links")
    res = CliRunner().invoke(prioritize, ["abc", "--pairs", str(simulated / "pairs.tsv"),
                                          "--dnase", str(simulated / "dnase.bw"),
                                          "--h3k27ac", str(simulated / "h3k27ac.bw"),
                                          "--hic", str(simulated / "hic.cool"), "-o", str(out / "abc.tsv")])
    assert res.exit_code == 0, res.output
    abc = pd.read_csv(out / "abc.tsv", sep="\t")
    rng = np.random.default_rng(0)
    pred = abc.drop(columns=["gene", "abc_score"]).assign(score=rng.random(len(abc)).round(4))
    pred = pred.iloc[rng.permutation(len(pred))]  # another row and chromosome order
    pred.to_csv(out / "pred.tsv", sep="\t", index=False)
    # EPInformer covers the closest candidates only, plus one element ABC did not score.
    epi = abc[abc["distance"] < 60_000][["gene", "promoter_chrom", "tss", "enhancer_chrom",
                                         "enhancer_start", "enhancer_end", "distance"]]
    epi = epi.rename(columns={"promoter_chrom": "chrom"})
    extra = epi.iloc[[0]].assign(enhancer_start=lambda d: d["enhancer_start"] + 1)
    epi = pd.concat([epi, extra], ignore_index=True)
    epi["attention"] = rng.random(len(epi)).round(4)
    epi["abc"] = rng.random(len(epi)).round(4)
    epi["attention_abc"] = (epi["attention"] * epi["abc"]).round(6)
    epi["knockout"] = -rng.random(len(epi)).round(4)
    epi.to_csv(out / "scores.tsv", sep="\t", index=False)
    return out, abc, pred, epi, extra


def _build(inputs, tmp_path, **kwargs):
    out, *_ = inputs
    path = tmp_path / "links.tsv"
    stats = build_links(out / "abc.tsv", path, epinformer=out / "scores.tsv",
                        pairs_scores=[f"cnn={out / 'pred.tsv'}"], threshold=0.05, **kwargs)
    return stats, pd.read_csv(path, sep="\t")


def test_links_join_every_score_by_element_and_gene(inputs, tmp_path):
    _, abc, pred, epi, extra = inputs
    stats, links = _build(inputs, tmp_path)
    assert len(links) == len(abc) + 1 == stats["links"]
    assert not links.duplicated(KEY).any()
    assert stats["scores"] == ["abc_score", "epinformer_attention", "epinformer_attention_abc",
                               "epinformer_knockout", "epinformer_abc", "cnn_score"]
    joined = links.merge(abc[KEY + ["abc_score"]], on=KEY, suffixes=("", "_abc"))
    np.testing.assert_allclose(joined["abc_score"], joined["abc_score_abc"], rtol=1e-5)
    # the gene-less pair-model table found its genes through the ABC promoters
    by_pair = pred.merge(abc[["pair_id", "gene"]], on="pair_id")
    joined = links.merge(by_pair[KEY + ["score"]], on=KEY)
    assert len(joined) == len(abc)
    np.testing.assert_allclose(joined["cnn_score"], joined["score"])
    assert links["epinformer_attention"].notna().sum() == len(epi)
    # the EPInformer-only element takes its gene's promoter and has no ABC score
    only = links.merge(extra[KEY], on=KEY)
    assert len(only) == 1 and np.isnan(only["abc_score"].iloc[0])
    gene_rows = links[links["gene"] == only["gene"].iloc[0]]
    assert (gene_rows["promoter_start"] == gene_rows["promoter_start"].iloc[0]).all()
    assert only["abc_predicted"].iloc[0] == 0
    np.testing.assert_array_equal(links["abc_predicted"], (links["abc_score"] >= 0.05).astype(int))
    assert stats["predicted"] == int((abc["abc_score"] >= 0.05).sum())


def test_links_ranks_per_gene(inputs, tmp_path):
    _, links = _build(inputs, tmp_path)
    for column, larger_first in [("abc_score", True), ("cnn_score", True),
                                 ("epinformer_knockout", False), ("distance", False)]:
        expected = links.groupby("gene")[column].rank(method="min", ascending=not larger_first)
        np.testing.assert_array_equal(links[f"rank_{column}"].to_numpy(np.float64),
                                      expected.to_numpy(np.float64), err_msg=column)
    top = links.loc[links.groupby("gene")["abc_score"].idxmax()]
    assert (top["rank_abc_score"] == 1).all()
    # a score a row lacks has no rank either
    assert links.loc[links["epinformer_attention"].isna(), "rank_epinformer_attention"].isna().all()


def test_links_streamed_in_small_chunks_is_identical(inputs, tmp_path):
    out, *_ = inputs
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    build_links(out / "abc.tsv", a, pairs_scores=[out / "pred.tsv"])
    build_links(out / "abc.tsv", b, pairs_scores=[out / "pred.tsv"], chunksize=37)
    assert a.read_bytes() == b.read_bytes()
    assert "pred_score" in a.read_text().splitlines()[0].split("\t")


def test_links_table_is_a_pairs_table(inputs, tmp_path):
    _, links = _build(inputs, tmp_path)
    table = read_pairs(tmp_path / "links.tsv")
    assert len(table) == len(links)
    assert {"abc_score", "rank_abc_score", "gene"} <= set(table.columns)


def test_links_errors_name_file_and_field(inputs, tmp_path):
    out, abc, *_ = inputs
    dup = tmp_path / "dup.tsv"
    pd.concat([abc, abc.iloc[[3]]]).to_csv(dup, sep="\t", index=False)
    with pytest.raises(InputError, match="repeated"):
        build_links(dup, tmp_path / "x.tsv")
    bad = tmp_path / "bad.tsv"
    abc.drop(columns="abc_score").to_csv(bad, sep="\t", index=False)
    res = CliRunner().invoke(prioritize, ["links", "--abc", str(bad), "-o", str(tmp_path / "y.tsv")])
    assert res.exit_code == 2 and "abc_score" in res.output and "bad.tsv" in res.output
    assert not (tmp_path / "y.tsv").exists()


def test_links_cli(inputs, tmp_path):
    out, abc, *_ = inputs
    res = CliRunner().invoke(prioritize, ["links", "--abc", str(out / "abc.tsv"), "--epinformer",
                                          str(out / "scores.tsv"), "--pairs-scores", str(out / "pred.tsv"),
                                          "--abc-threshold", "0.1", "-o", str(tmp_path / "l.tsv")])
    assert res.exit_code == 0, res.output
    links = pd.read_csv(tmp_path / "l.tsv", sep="\t")
    assert links["abc_predicted"].sum() == (abc["abc_score"] >= 0.1).sum()
