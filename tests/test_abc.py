"""ABC score: reproduction of the ABC pipeline's K562 chr22 reference output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from epitools.contacts.powerlaw import abc_normalise
from epitools.io.tracks import element_signal, read_bedgraph
from epitools.prioritize.abc import abc_score, element_activity, quantile_normalise

HALF = 0.5e-6  # half a unit of the 6th decimal the reference file prints


@pytest.fixture(scope="module")
def abc_dir(shared_data):
    return shared_data / "abc" / "K562_chr22_hg38"


@pytest.fixture(scope="module")
def reference(abc_dir):
    return pd.read_csv(abc_dir / "EnhancerPredictionsFull_threshold0.027_self_promoter.tsv.gz", sep="\t")


@pytest.fixture(scope="module")
def params(abc_dir):
    rows = (abc_dir / "parameters.predict.txt").read_text().splitlines()
    return dict(line.split(" ", 1) for line in rows)


@pytest.mark.shared_data
def test_contact_normalisation_reproduces_reference(reference, params):
    assert len(reference) == 1353
    gamma, scale = float(params["hic_gamma"]), float(params["hic_scale"])
    norm = abc_normalise(reference["hic_contact"], reference["distance"], gamma, scale,
                         float(params["hic_gamma_reference"]),
                         float(params["hic_pseudocount_distance"]),
                         float(params["hic_resolution"]))
    pl_ratio = norm["powerlaw_contact_reference"] / norm["powerlaw_contact"]
    tol = {
        "powerlaw_contact": HALF * 1.01,
        "powerlaw_contact_reference": HALF * 1.01,
        "hic_pseudocount": HALF * 1.01,
        # the input hic_contact is itself rounded to 6 decimals
        "hic_contact_pl_scaled": HALF * (1 + pl_ratio) * 1.01,
        "hic_contact_pl_scaled_adj": HALF * (2 + pl_ratio) * 1.01,
    }
    for column, allowed in tol.items():
        err = np.abs(norm[column] - reference[column].to_numpy())
        assert (err <= allowed).all(), f"{column}: max error {err.max():.3g}"
    numerator = reference["activity_base"].to_numpy() * norm["hic_contact_pl_scaled_adj"]
    allowed = (HALF * norm["hic_contact_pl_scaled_adj"] + reference["activity_base"] * tol["hic_contact_pl_scaled_adj"]
               + HALF) * 1.01
    err = np.abs(numerator - reference["ABC.Score.Numerator"])
    assert (err <= allowed).all(), f"numerator: max error {err.max():.3g}"


@pytest.mark.shared_data
def test_abc_score_given_gene_denominators(reference):
    df = reference.rename(columns={"TargetGene": "gene", "TargetGeneTSS": "tss", "chr": "enhancer_chrom",
                                   "start": "enhancer_start", "end": "enhancer_end"})
    distal = ~df["isSelfPromoter"]
    # the file lists only pairs above threshold: each gene's denominator is Numerator / Score of
    # its distal rows; one hidden row per gene carries the numerators the file leaves out
    denom = (df["ABC.Score.Numerator"] / df["ABC.Score"])[distal].groupby(df["gene"][distal]).median()
    listed = df.groupby("gene")["ABC.Score.Numerator"].sum().reindex(denom.index)
    tss = df.groupby("gene")["tss"].first().reindex(denom.index)
    extra = pd.DataFrame({"gene": denom.index, "tss": tss.to_numpy(), "activity": 1.0,
                          "contact_norm": (denom - listed).clip(lower=0).to_numpy(),
                          "distance": 0.0, "hidden": True})
    rows = df.assign(activity=df["activity_base"], contact_norm=df["ABC.Score.Numerator"] / df["activity_base"],
                     hidden=False)
    scored = abc_score(pd.concat([rows, extra], ignore_index=True), self_promoter_col="isSelfPromoter",
                       threshold=0.027)
    scored = scored[~scored["hidden"].astype(bool)]
    err = np.abs(scored["abc_score"].to_numpy() - df["ABC.Score"].to_numpy())
    assert err.max() <= 2e-6
    assert scored["abc_predicted"].all()  # every row of the thresholded file passes 0.027


@pytest.mark.shared_data
def test_activity_from_read_counts_and_qnorm_reference(abc_dir, shared_data, reference):
    elements = pd.read_csv(abc_dir / "EnhancerList.bed.gz", sep="\t", header=None,
                           names=["chrom", "start", "end", "name"])
    assert len(elements) == 17732
    is_promoter = elements["name"].str.startswith("promoter|")
    dhs = element_signal(elements, abc_dir / "Enhancers.DHS.ENCFF860XAE.CountReads.bedgraph.gz")
    h3k27ac = element_signal(elements, abc_dir / "Enhancers.H3K27ac.ENCFF790GFL.CountReads.bedgraph.gz")
    act = element_activity(dhs, h3k27ac, is_promoter=is_promoter,
                           qnorm_reference=shared_data / "abc" / "reference" / "EnhancersQNormRef.K562.txt")
    table = pd.concat([elements, act], axis=1)
    merged = reference.merge(table, on="name", suffixes=("_ref", ""))
    assert len(merged) == len(reference)
    for column in ("normalized_dhs", "activity_base"):
        err = np.abs(merged[column] - merged[f"{column}_ref"])
        assert (err <= HALF * 1.01).all(), f"{column}: max error {err.max():.3g}"
    # quantile normalisation depends on ranks only: the unknown library size cancels
    again = element_activity(dhs, h3k27ac, is_promoter=is_promoter, total_dhs=1e7, total_h3k27ac=3e6,
                             qnorm_reference=shared_data / "abc" / "reference" / "EnhancersQNormRef.K562.txt")
    np.testing.assert_allclose(again["activity_base"], act["activity_base"])


def test_abc_score_sums_to_one_per_gene_and_window():
    df = pd.DataFrame({
        "gene": ["A", "A", "A", "B", "B"], "tss": [1000, 1000, 1000, 9000, 9000],
        "activity": [1.0, 3.0, 5.0, 2.0, 2.0], "contact_norm": [0.5, 0.5, 0.1, 0.2, 0.3],
        "distance": [10, 20, 6_000_000, 5, 7],
    })
    out = abc_score(df, self_promoters=False)
    np.testing.assert_allclose(out["abc_score"], [0.25, 0.75, np.nan, 0.4, 0.6])
    assert np.isnan(out["abc_numerator"].iloc[2])


def test_quantile_normalise_by_rank():
    ref = pd.DataFrame({"enh_class": ["promoter"] * 2 + ["nonpromoter"] * 3,
                        "rank": [2, 0, 3, 1, 0], "DHS.RPM": [0.0, 10.0, 0.0, 6.0, 9.0]})
    vals = np.array([5.0, 1.0, 3.0, 100.0, 7.0])
    prom = np.array([False, False, False, True, True])
    got = quantile_normalise(vals, prom, ref, "DHS.RPM")
    # nonpromoters 5,1,3 -> ranks 3,1,2 of 3 -> reference ranks 0,2,1
    np.testing.assert_allclose(got[:3], [9.0, 3.0, 6.0])
    # promoters 100, 7 -> ranks 2, 1 of 2 -> reference ranks 0, 1
    np.testing.assert_allclose(got[3:], [10.0, 5.0])


def test_bedgraph_coverage_and_bad_line(tmp_path):
    bg = tmp_path / "s.bedgraph"
    bg.write_text("track type=bedGraph\nchr1\t0\t10\t1\nchr1\t10\t20\t3\nchr2\t0\t5\t2\n")
    elements = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2", "chr3"], "start": [5, 0, 1, 0],
                             "end": [15, 20, 3, 9]})
    np.testing.assert_allclose(element_signal(elements, bg), [5 * 1 + 5 * 3, 40, 4, 0])
    bad = tmp_path / "bad.bedgraph"
    bad.write_text("chr1\t0\t10\t1\nchr1\t10\tx\t3\n")
    from epitools.errors import InputError

    with pytest.raises(InputError, match="line 2.*end"):
        read_bedgraph(bad)


def test_abc_command_on_simulated_tracks_and_hic(simulated, tmp_path):
    from click.testing import CliRunner

    from epitools.cli.prioritize import main
    from epitools.prioritize.abc import score_table

    args = ["--pairs", simulated / "pairs.tsv", "--dnase", simulated / "dnase.bw",
            "--h3k27ac", simulated / "h3k27ac.bw", "--hic", simulated / "hic.cool"]
    res = CliRunner().invoke(main, ["abc", *map(str, args), "-o", str(tmp_path / "abc.tsv")])
    assert res.exit_code == 0, res.output
    written = pd.read_csv(tmp_path / "abc.tsv", sep="\t")
    table = score_table(simulated / "pairs.tsv", dnase=simulated / "dnase.bw",
                        h3k27ac=simulated / "h3k27ac.bw", hic=simulated / "hic.cool", self_promoters=False)
    assert len(written) == len(table) and {"activity", "contact_norm", "abc_score", "abc_predicted"} <= set(written)
    np.testing.assert_allclose(table.groupby("gene")["abc_score"].sum(), 1.0)
    # same activity over each distinct element whichever pair carries it
    assert table.groupby(["enhancer_chrom", "enhancer_start", "enhancer_end"])["activity"].nunique().max() == 1
    res = CliRunner().invoke(main, ["abc", *map(str, args), "--window", "0", "-o", str(tmp_path / "x.tsv")])
    assert res.exit_code == 2 and "--window must be positive" in res.output
    empty = tmp_path / "empty.bedGraph"
    empty.write_text("chrZ\t0\t10\t1\n")
    res = CliRunner().invoke(main, ["abc", "--pairs", str(simulated / "pairs.tsv"), "--dnase", str(empty),
                                    "-o", str(tmp_path / "y.tsv")])
    assert res.exit_code == 2 and "no signal over any of the" in res.output
