"""epi-variants: VCF reading, REF/ALT windows (as tangermeme builds them), pair and EPInformer
effects, null calibration, outputs and the CLI's errors, on tiny simulated data with small
untrained models (the planted-truth acceptance with trained models is test_variants_acceptance)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from epitools.cli.variants import main as variants_cli
from epitools.io.checkpoint import make_checkpoint, save_checkpoint
from epitools.io.genome import Genome
from epitools.variants.alleles import alt_windows, window_hits
from epitools.variants.null import calibrate
from epitools.variants.vcf import read_variants

pytestmark = pytest.mark.usefixtures("single_torch_thread")
W = 128


@pytest.fixture(scope="module")
def setup(simulated, tmp_path_factory):
    from epitools.data.gene_store import build_gene_store
    from epitools.models.epinformer import EPInformer
    from epitools.models.simcnn import SIMCNN

    root = tmp_path_factory.mktemp("variants")
    torch.manual_seed(0)
    save_checkpoint(make_checkpoint(SIMCNN(W, W, filters=8, kernel=9, pool=16, dense=16).eval(), "simcnn",
                                    "onehot"), root / "pair" / "model.pt")
    # held-out metrics that clear the near-chance guard; the pair model has none (warned)
    save_checkpoint(make_checkpoint(EPInformer(64, 64, max_enhancers=8).eval(), "epinformer", "onehot",
                                    metrics={"test": {"stored": {"pearson_r": 0.8, "n": 50}}}),
                    root / "genes" / "model.pt")
    build_gene_store(simulated / "genes.tsv", simulated / "elements.bed", simulated / "genome.fa",
                     root / "genes.h5", hic=simulated / "hic.cool", promoter_length=64, enhancer_length=64,
                     max_enhancers=8)
    return {"root": root, "sim": simulated, "pair": root / "pair" / "model.pt", "genes": root / "genes" / "model.pt",
            "store": root / "genes.h5"}


def _write_vcf(path, rows, contigs=("chr1",)):
    lines = ["##fileformat=VCFv4.2"] + [f"##contig=<ID={c}>" for c in contigs]
    lines += ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += ["\t".join(map(str, (c, p, i, r, a, ".", "PASS", "."))) for c, p, i, r, a in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _bases(genome, chrom, start, end):
    return "".join("ACGTN"[c] for c in genome.fetch_codes(chrom, start, end))


def test_simulated_vcf_classes_and_truth(setup):
    truth = json.loads((setup["sim"] / "truth.json").read_text())["variants"]
    classes = {v["class"] for v in truth}
    assert classes == {"motif_breaking", "neutral", "outside"}
    with Genome(setup["sim"] / "genome.fa") as genome:
        variants, counts = read_variants(setup["sim"] / "variants.vcf.gz", genome)
    assert counts["ref_mismatch"] == 0 and len(variants) == len(truth)
    assert {"snv", "deletion", "insertion"} <= set(variants["kind"])
    breaking = [v for v in truth if v["class"] == "motif_breaking"]
    assert all(v["expected_pair"] == -1 for v in breaking)
    assert all(v["expected_pair"] is None for v in truth if v["class"] == "outside")


def test_split_symbolic_long_alias_and_ref_mismatch(setup, tmp_path):
    with Genome(setup["sim"] / "genome.fa") as genome:
        ref = _bases(genome, "chr1", 5000, 5002)
        alts = [b for b in "ACGT" if b != ref[0]]
        rows = [("1", 5001, "multi", ref[0], f"{alts[0]},{alts[1]}"), ("1", 5001, "sv", ref[0], "<DEL>"),
                ("1", 5001, "long", ref[0], ref[0] + "A" * 60)]
        vcf = _write_vcf(tmp_path / "a.vcf", rows, contigs=("1",))
        variants, counts = read_variants(vcf, genome)
        assert list(variants["alt"]) == alts[:2] and set(variants["chrom"]) == {"chr1"}  # 1 -> chr1
        assert counts["symbolic"] == 1 and counts["too_long"] == 1 and counts["alleles"] == 4
        bad = _write_vcf(tmp_path / "b.vcf", [("chr1", 5001, "wrong", alts[2], ref[0])])
        kept, counts = read_variants(bad, genome, skip_ref_mismatch=True)
        assert kept.empty and counts["ref_mismatch"] == 1
    result = CliRunner().invoke(variants_cli, ["--vcf", str(bad), "--genome", str(setup["sim"] / "genome.fa"),
                                               "--model", str(setup["pair"]), "--pairs",
                                               str(setup["sim"] / "pairs.tsv"), "-o", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 2
    assert "record 1" in result.output and "wrong" in result.output and f"genome has {ref[0]}" in result.output


@pytest.mark.parametrize("ref_len, alt", [(1, "T"), (5, "A"), (1, "ACGTA")])
def test_alt_windows_match_tangermeme(setup, ref_len, alt):
    from tangermeme.variant_effect import deletion_effect, insertion_effect

    from epitools.data.encoding import one_hot

    length, win, offset = 50, 1000, 20
    with Genome(setup["sim"] / "genome.fa") as genome:
        ref = _bases(genome, "chr1", win + offset, win + offset + ref_len)
        alt = ref[0] + alt[1:] if len(alt) > 1 or ref_len > 1 else ("A" if ref != "A" else "C")
        ours = alt_windows(genome, ["chr1"], [win], [offset], [ref], [alt], length)[0]
        extended = genome.fetch_windows(["chr1"], [win], length + 10)
    x = one_hot(torch.from_numpy(extended)).float()
    captured = {}

    def keep(model, X, args=None, **kw):
        captured.setdefault("x", []).append(X.clone())
        return X

    if len(ref) > len(alt):  # tangermeme: delete the bases after the anchor, keep the first L
        d = torch.tensor([[0, offset + 1 + i] for i in range(len(ref) - 1)])
        deletion_effect(None, x[:, :, :length + len(ref) - 1], d, func=keep)
        theirs = captured["x"][1][0].argmax(0).numpy()
    elif len(alt) > len(ref):
        ins = torch.tensor([[0, offset + 1, "ACGT".index(b)] for b in alt[1:][::-1]])
        insertion_effect(None, x[:, :, :length], ins, func=keep)
        theirs = captured["x"][1][0].argmax(0).numpy()
    else:
        theirs = extended[0, :length].copy()
        theirs[offset] = "ACGT".index(alt)
    np.testing.assert_array_equal(ours, theirs)


def test_window_hits_inside_only():
    variants = pd.DataFrame({"chrom": ["c", "c", "c"], "start": [10, 99, 100], "end": [11, 101, 101]})
    hits = window_hits(variants, np.array(["c", "c"], object), np.array([0, 50]), 100)
    got = set(zip(hits["variant"], hits["window"]))
    assert got == {(0, 0), (1, 1), (2, 1)}  # 99-101 crosses the end of window 0


def test_calibrate_p_and_z():
    null = np.linspace(-1, 1, 99)
    p, z = calibrate(np.array([0.0, 5.0, -5.0]), null)
    assert p[1] == p[2] == pytest.approx(1 / 100) and p[0] > 0.9
    assert z[1] > 3 and z[2] < -3


def test_cli_outputs_pairs_and_epinformer(setup, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(variants_cli, [
        "--vcf", str(setup["sim"] / "variants.vcf.gz"), "--genome", str(setup["sim"] / "genome.fa"),
        "--model", str(setup["pair"]), "--model", str(setup["genes"]), "--pairs", str(setup["sim"] / "pairs.tsv"),
        "--data", str(setup["store"]), "--null", "100", "--attribute", "--attribute-variants", "2", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    effects = pd.read_csv(out / "effects.tsv", sep="\t")
    summary = pd.read_csv(out / "summary.tsv", sep="\t")
    truth = pd.DataFrame(json.loads((setup["sim"] / "truth.json").read_text())["variants"])
    outside = set(truth.loc[truth["class"] == "outside", "id"])
    # outside every window: reported, not scored and not a zero effect
    rows = summary[summary["variant_id"].isin(outside)]
    assert len(rows) == 2 * len(outside) and (rows["status"] == "not_scored_outside_windows").all()
    assert rows["effect"].isna().all()
    scored = effects[effects["status"] == "scored"]
    pair_rows = scored[scored["model"].str.startswith("simcnn")]
    np.testing.assert_allclose(pair_rows["delta_logit"], pair_rows["logit_alt"] - pair_rows["logit_ref"], atol=2e-5)
    gene_rows = scored[scored["model"].str.startswith("epinformer")]
    assert len(gene_rows) and set(gene_rows["element"]) <= {"enhancer", "promoter"}
    enh = gene_rows[gene_rows["element"] == "enhancer"]
    assert enh["rank_ref"].ge(1).all() and enh["attention_ref"].between(0, 1).all()
    ok = summary[summary["status"] == "scored"]
    assert ok["p_empirical"].between(0, 1).all() and ok["p_empirical"].notna().all()
    with gzip.open(out / "variants.annotated.vcf.gz", "rt") as fh:
        text = fh.read()
    assert "##INFO=<ID=EPI," in text and "|simcnn:pair|scored|" in text
    arrays = np.load(out / "attributions_simcnn_pair.npz")
    assert arrays["ref"].shape == (2, 41, 4) and len(arrays["motif"]) == 2
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["variants"] == len(truth)
    # the near-chance guard: the pair model has no held-out metrics, EPInformer cleared them
    for table in (effects, summary):
        warned = table.loc[table["model"].str.startswith("simcnn"), "model_warning"]
        assert warned.str.contains("no held-out metrics").all()
        assert table.loc[table["model"].str.startswith("epinformer"), "model_warning"].isna().all()
    assert [m["model_warning"] == "" for m in run["models"]] == [False, True]
    assert "##EPI_model_warning=simcnn:pair: " in text and "epinformer:genes: " not in text


def test_element_cache_matches_whole_network(setup):
    """Δ logits through embeddings equal the whole network on REF and ALT pairs."""
    from epitools.data.encoding import one_hot
    from epitools.training.predict import Predictor
    from epitools.variants.pair_effects import pair_effects, pair_windows_index

    predictor = Predictor(setup["pair"], device="cpu")
    pairs = pd.read_csv(setup["sim"] / "pairs.tsv", sep="\t").head(40)
    with Genome(setup["sim"] / "genome.fa") as genome:
        variants, _ = read_variants(setup["sim"] / "variants.vcf.gz", genome)
        effects = pair_effects(predictor, variants, pairs, genome)
        assert len(effects)
        index = pair_windows_index(pairs, genome, predictor.geometry)
        row = effects.iloc[0]
        v = variants.iloc[int(row["variant"])]
        codes = {}
        for side in ("enhancer", "promoter"):
            chroms, starts, ids = index[side]
            w = ids[int(row["pair"])]
            codes[side] = genome.fetch_windows([chroms[w]], [starts[w]], W)
            if side == row["element"]:
                codes[side] = alt_windows(genome, [chroms[w]], [starts[w]], [v["start"] - starts[w]],
                                          [v["ref"]], [v["alt"]], W)
    with torch.no_grad():
        logit = predictor.model(one_hot(torch.from_numpy(codes["enhancer"])),
                                one_hot(torch.from_numpy(codes["promoter"])))["logit"].item()
    assert row["logit_alt"] == pytest.approx(logit, abs=1e-4)


def test_report_figures(setup, tmp_path):
    from epitools.report.plots import png_bytes
    from epitools.report.variants import variant_figures

    out = tmp_path / "out"
    result = CliRunner().invoke(variants_cli, [
        "--vcf", str(setup["sim"] / "variants.vcf.gz"), "--genome", str(setup["sim"] / "genome.fa"),
        "--model", str(setup["pair"]), "--pairs", str(setup["sim"] / "pairs.tsv"), "--null", "20",
        "--attribute", "--attribute-variants", "2", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    figures = variant_figures(out)
    assert set(figures) == {"manhattan", "logos_simcnn_pair"}
    assert all(png_bytes(fig)[:4] == b"\x89PNG" for fig in figures.values())
    assert variant_figures(tmp_path / "nothing") == {}
