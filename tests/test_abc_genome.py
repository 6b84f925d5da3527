"""All-pairs ABC end to end (candidate pairs -> power-law ABC) and ABC's thresholded summaries."""

from __future__ import annotations

import filecmp

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.errors import InputError
from epitools.prioritize.abc import score_table
from epitools.prioritize.abc_genome import (iter_chromosome_frames, thresholded_predictions,
                                            write_summaries)
from epitools.regions.activity import element_activity, element_classes
from epitools.regions.counts import element_counts
from epitools.regions.genes import read_annotation
from epitools.regions.pairs import chromosome_pairs

HALF = 0.5e-6  # half a unit of the 6th decimal the reference prints


@pytest.fixture(scope="module")
def reference(shared_data):
    """ABC's K562 chr22 folder and its thresholded full predictions (1,353 rows)."""
    folder = shared_data / "abc" / "K562_chr22_hg38"
    return folder, pd.read_csv(folder / "EnhancerPredictionsFull_threshold0.027_self_promoter.tsv.gz", sep="\t")


@pytest.mark.shared_data
def test_all_pairs_powerlaw_abc_reproduces_reference(shared_data, reference):
    """Elements, read counts and genes -> every pair within 5 Mb -> power-law ABC: each gene's
    denominator comes from our own neighbourhood, not from the reference."""
    abc_dir, reference = reference
    params = dict(line.split(" ", 1) for line in (abc_dir / "parameters.predict.txt").read_text().splitlines())
    elements = pd.read_csv(abc_dir / "EnhancerList.bed.gz", sep="\t", header=None,
                           names=["chrom", "start", "end", "name"])
    genes = read_annotation(abc_dir / "GeneList.txt.gz")
    classes = element_classes(elements, genes)
    dhs, _ = element_counts(elements, abc_dir / "Enhancers.DHS.ENCFF860XAE.CountReads.bedgraph.gz")
    h3k27ac, _ = element_counts(elements, abc_dir / "Enhancers.H3K27ac.ENCFF790GFL.CountReads.bedgraph.gz")
    activity = element_activity(dhs, h3k27ac, is_promoter=classes == "promoter",
                                qnorm_reference=shared_data / "abc" / "reference" / "EnhancersQNormRef.K562.txt")
    elements = elements.assign(activity=activity["activity_base"].to_numpy(), **{"class": classes})
    pairs = chromosome_pairs(elements, genes[["gene", "chrom", "tss"]], max_distance=float(params["window"]))
    scored = score_table(pairs, gamma=float(params["hic_gamma"]), scale=float(params["hic_scale"]),
                         window=float(params["window"]), threshold=0.027)
    assert len(reference) == 1353
    merged = reference.merge(scored, left_on=["name", "TargetGene"], right_on=["name", "gene"], how="left",
                             suffixes=("", "_ours"))
    assert len(merged) == 1353 and merged["abc_score"].notna().all()
    np.testing.assert_array_equal(merged["distance"], merged["distance_ours"])
    np.testing.assert_array_equal(merged["isSelfPromoter"], merged["is_self_promoter"])
    np.testing.assert_array_equal(merged["class"], merged["class_ours"])
    err = np.abs(merged["abc_score"] - merged["powerlaw.Score"])
    assert err.max() <= HALF * 1.01, f"powerlaw.Score: max error {err.max():.3g}"
    # our activity equals ABC's to its printed precision (half a unit: its reference ranks are
    # printed too); that half unit times the contact adds to the numerator's own rounding
    err = np.abs(merged["abc_numerator"] - merged["powerlaw.Score.Numerator"])
    allowed = HALF * (1 + merged["powerlaw_contact"]) * 1.01
    assert (err <= allowed).all(), f"powerlaw.Score.Numerator: max error {err.max():.3g}"


@pytest.mark.shared_data
def test_summaries_reproduce_abc_files(reference, tmp_path):
    abc_dir, reference = reference
    kept = thresholded_predictions(reference, 0.027)
    assert len(kept) == len(reference)  # the reference is already thresholded
    paths = write_summaries(kept, tmp_path, 0.027)
    assert filecmp.cmp(paths["genes"], abc_dir / "GenePredictionStats_threshold0.027_self_promoter.tsv", shallow=False)
    assert filecmp.cmp(paths["slim"], abc_dir / "EnhancerPredictions_threshold0.027_self_promoter.tsv", shallow=False)
    # a promoter that is not the gene's own promoter and a score at the threshold both leave
    probe = reference.iloc[:3].assign(**{"class": ["promoter", "genic", "genic"], "isSelfPromoter": False,
                                         "ABC.Score": [0.5, 0.027, 0.5]})
    assert thresholded_predictions(probe, 0.027).index.tolist() == [2]


def test_streamed_abc_command_equals_whole_table(simulated, tmp_path):
    from epitools.cli.candidates import main as candidates
    from epitools.cli.prioritize import main as prioritize

    run = CliRunner()
    elements = pd.read_csv(simulated / "elements.bed", sep="\t", header=None,
                           names=["chrom", "start", "end", "name", "dnase", "h3k27ac"])
    elements.assign(activity=np.sqrt(elements["dnase"] * elements["h3k27ac"])).to_csv(
        tmp_path / "e.tsv", sep="\t", index=False)
    res = run.invoke(candidates, ["pairs", "--elements", str(tmp_path / "e.tsv"), "--genes",
                                  str(simulated / "genes.tsv"), "--max-distance", "150000",
                                  "-o", str(tmp_path / "p.tsv.gz")])
    assert res.exit_code == 0, res.output
    res = run.invoke(prioritize, ["abc", "--pairs", str(tmp_path / "p.tsv.gz"), "--summaries",
                                  str(tmp_path / "s"), "-o", str(tmp_path / "abc.tsv")])
    assert res.exit_code == 0, res.output
    streamed = pd.read_csv(tmp_path / "abc.tsv", sep="\t")
    whole = score_table(tmp_path / "p.tsv.gz")
    assert streamed["promoter_chrom"].nunique() == 4 and len(streamed) == len(whole)
    np.testing.assert_allclose(streamed["abc_score"], whole["abc_score"], rtol=1e-12)
    np.testing.assert_allclose(streamed.groupby("gene")["abc_score"].sum(), 1.0)
    stats = pd.read_csv(tmp_path / "s" / "GenePredictionStats_threshold0.02_self_promoter.tsv", sep="\t")
    full = pd.read_csv(tmp_path / "s" / "EnhancerPredictionsFull_threshold0.02_self_promoter.tsv", sep="\t")
    assert (full["ABC.Score"] > 0.02).all() and set(stats["TargetGene"]) <= set(full["TargetGene"])
    assert stats["nEnhancersConsidered"].sum() <= len(full)
    # a table whose chromosomes are interleaved cannot be scored one chromosome at a time
    shuffled = whole.sample(frac=1.0, random_state=0)
    shuffled.drop(columns=[c for c in whole.columns if c.startswith("abc_")]).to_csv(
        tmp_path / "mixed.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="grouped by promoter chromosome"):
        list(iter_chromosome_frames(tmp_path / "mixed.tsv"))
