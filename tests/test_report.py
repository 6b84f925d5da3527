"""epi-report: one self-contained HTML page over runs (models × cells × folds)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.report import main as report_cli
from epitools.report.html import collect_runs, summarise


def _run(root, model, cell, fold, auroc, seed):
    run = root / f"{model}_{cell}_{fold}"
    run.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(20), np.zeros(80)]
    score = y * 0.3 + rng.random(100)
    pd.DataFrame({"pair_id": np.arange(100), "label": y.astype(int), "score": score}).to_csv(
        run / "predictions.tsv", sep="\t", index=False)
    metrics = {"model": model, "task": "pairs", "split": "chrom", "fold": fold, "cell_types": [cell],
               "auroc": auroc, "auprc": auroc - 0.2, "f1": 0.5, "n": 100, "positives": 20, "epochs": 3,
               "test": {"1:1": {"auroc": auroc, "auprc": 0.8}, "1:10": {"auroc": auroc, "auprc": 0.4}}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_summary_is_mean_and_sd_per_model_cell_split(tmp_path):
    for fold, auc in ((1, 0.8), (2, 0.9)):
        _run(tmp_path / "runs", "epipam", "K562", fold, auc, fold)
        _run(tmp_path / "runs", "simcnn", "K562", fold, auc - 0.1, fold)
    _run(tmp_path / "runs", "epipam", "GM12878", 1, 0.7, 9)
    runs = collect_runs([tmp_path / "runs"])
    assert len(runs) == 5
    summary = summarise(runs).set_index(["model", "cell", "split"])
    row = summary.loc[("epipam", "K562", "chrom")]
    assert row["runs"] == 2
    assert abs(row["auroc_mean"] - 0.85) < 1e-9 and abs(row["auroc_sd"] - np.std([0.8, 0.9], ddof=1)) < 1e-9
    assert abs(summary.loc[("simcnn", "K562", "chrom"), "auroc_mean"] - 0.75) < 1e-9
    assert summary.loc[("epipam", "GM12878", "chrom"), "runs"] == 1


def test_cli_writes_one_self_contained_page(tmp_path):
    for fold, auc in ((1, 0.8), (2, 0.9)):
        _run(tmp_path / "runs", "epipam", "K562", fold, auc, fold)
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_cli, [str(tmp_path / "runs"), "--summary", str(tmp_path / "s.tsv"),
                                          "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "0.850 ± 0.071" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert re.findall(r'data-figure="([^"]+)"', page) == ["roc", "pr", "calibration"]  # of (K562, chrom)
    assert len(images) == 3
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "src=\"http" not in page and "<link" not in page  # nothing to fetch
    assert "20/100" in page  # positives / n of each run
    summary = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert list(summary["model"]) == ["epipam"]


def test_bad_inputs_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(report_cli, [str(tmp_path / "empty"), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "nothing to report" in res.output and "no metrics.json" in res.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.json").write_text(json.dumps({"auroc": 0.5}))
    res = CliRunner().invoke(report_cli, [str(bad), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "metrics.json" in res.output and "model" in res.output
    assert not (tmp_path / "r.html").exists()


def test_run_directories_staged_as_symlinks_are_found(tmp_path):
    # Nextflow stages each run directory into the task as a symlink.
    from epitools.report.html import find_metrics

    real = tmp_path / "work" / "ab" / "run1"
    real.mkdir(parents=True)
    (real / "metrics.json").write_text("{}")
    staged = tmp_path / "task" / "runs"
    staged.mkdir(parents=True)
    (staged / "run1").symlink_to(real)
    assert find_metrics([staged]) == [staged / "run1" / "metrics.json"]


# --------------------------------------------------------------------------- every section, real outputs
SECTIONS = ("pair-models", "gene-models", "prioritisation", "attribution", "contacts", "versions")


def _invoke(args):
    from epitools.cli.main import cli

    res = CliRunner().invoke(cli, [*map(str, args), "-q"])
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res


def _motif_outputs(sim, out):
    """A motifs folder written by the writer of ``epi-attribute motifs`` for two of the planted
    motifs (TF-MoDISco-lite on an untrained model finds none, and takes half a minute)."""
    from epitools.interpret import motifs as M
    from epitools.interpret.jaspar import counts_to_ppm

    truth = json.loads((sim / "truth.json").read_text())
    patterns = []
    for side in ("enhancer", "promoter"):
        counts = truth["motifs"][side][0]["counts"]
        ppm = counts_to_ppm(np.array([counts[b] for b in "ACGT"], float))
        cwm = 0.1 * M.information_content(ppm)
        patterns.append(M.Pattern(f"pos_pattern_{side}", "pos", ppm, cwm, cwm, 30))
    out.mkdir(parents=True)
    table = M.motifs_table(patterns, M.match_motifs([p.ppm for p in patterns], [p.name for p in patterns]))
    table.to_csv(out / "motifs.tsv", sep="\t", index=False)
    M.pattern_logos(patterns, out / "logos")


def _crispr_benchmark(pairs_path, out):
    """The simulated pairs as an ENCODE-rE2G CRISPRi benchmark (label = planted interaction)."""
    pairs = pd.read_csv(pairs_path, sep="\t")
    pd.DataFrame({"chrom": pairs["enhancer_chrom"], "chromStart": pairs["enhancer_start"],
                  "chromEnd": pairs["enhancer_end"], "measuredGeneSymbol": pairs["gene"],
                  "startTSS": pairs["tss"], "Regulated": pairs["label"].astype(bool)}
                 ).to_csv(out, sep="\t", index=False)


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory, simulated, single_torch_thread):
    """The demo's chain on the tiny simulation: contacts, ABC, a pair model, EPInformer and
    its scores, attributions and TF pairs, a CRISPRi evaluation, and a versions.yml."""
    res = tmp_path_factory.mktemp("demo") / "results"
    sim = simulated
    _invoke(["contacts", "--pairs", sim / "pairs.tsv", "--hic", sim / "hic.mcool", "-o", res / "contacts/pairs.tsv"])
    _invoke(["prioritize", "abc", "--pairs", res / "contacts/pairs.tsv", "--dnase", sim / "dnase.bw",
             "--h3k27ac", sim / "h3k27ac.bw", "-o", res / "abc/abc.tsv"])
    _invoke(["encode", "pairs", "--pairs", sim / "pairs.tsv", "--genome", sim / "genome.fa",
             "--enhancer-length", 256, "--promoter-length", 256, "-o", res / "encoded/pairs.h5"])
    _invoke(["train", "--data", res / "encoded/pairs.h5", "--model", "simcnn", "--split", "chrom",
             "--folds", 3, "--fold", 1, "--epochs", 2, "--seed", 1, "-o", res / "runs/simcnn_chrom_fold1"])
    _invoke(["encode", "genes", "--genes", sim / "genes.tsv", "--elements", sim / "elements.bed",
             "--genome", sim / "genome.fa", "--hic", sim / "hic.mcool", "--enhancer-length", 256,
             "--promoter-length", 256, "-o", res / "encoded/genes.h5"])
    _invoke(["train", "--data", res / "encoded/genes.h5", "--model", "epinformer", "--split", "chrom12",
             "--fold", 1, "--epochs", 1, "--seed", 1, "-o", res / "runs/epinformer_chrom12_fold1"])
    genes = pd.read_csv(sim / "genes.tsv", sep="\t")["gene"].head(6)
    _invoke(["prioritize", "epinformer", "--model", res / "runs/epinformer_chrom12_fold1/model.pt",
             "--data", res / "encoded/genes.h5", *[a for g in genes for a in ("--gene", g)],
             "-o", res / "prioritize"])
    for element in ("enhancer", "promoter"):
        _invoke(["attribute", "scores", "--model", res / "runs/simcnn_chrom_fold1/model.pt",
                 "--data", res / "encoded/pairs.h5", "--element", element, "--rows", "all",
                 "--max-pairs", 48, "--n-shuffles", 2, "-o", res / f"attribution/{element}"])
        _invoke(["attribute", "tracks", "--attributions", res / f"attribution/{element}/attributions.npz",
                 "--chrom-sizes", sim / "chrom.sizes", "-o", res / f"attribution/{element}_tracks"])
    planted = [m["jaspar_id"] for side in ("enhancer", "promoter")
               for m in json.loads((sim / "truth.json").read_text())["motifs"][side]]
    _invoke(["attribute", "tf-pairs", "--enhancer-regions",
             res / "attribution/enhancer_tracks/enhancer_top_regions.tsv", "--promoter-regions",
             res / "attribution/promoter_tracks/promoter_top_regions.tsv", "--motifs", ",".join(planted),
             "--min-pairs", 1, "-o", res / "attribution/tf_pairs"])
    _motif_outputs(sim, res / "attribution/motifs")
    _crispr_benchmark(sim / "pairs.tsv", res / "benchmark.tsv")
    _invoke(["prioritize", "evaluate", "--benchmark", res / "benchmark.tsv", "--predictions", res / "abc/abc.tsv",
             "-o", res / "crispr"])
    (res / "pipeline_info").mkdir()
    (res / "pipeline_info/versions.yml").write_text('"EPI_TRAIN":\n    epitools: 0.1.0\n    torch: 2.13.0\n')
    return res


@pytest.fixture(scope="module")
def demo_report(demo_results, simulated):
    out = demo_results / "report.html"
    _invoke(["report", demo_results, simulated, "-o", out])
    return out.read_text()


def _section(page, section_id):
    match = re.search(rf"<section id='{section_id}'>(.*?)</section>", page, re.S)
    assert match, f"no section {section_id}"
    return match.group(1)


def _figures(html_text):
    return re.findall(r'data-figure="([^"]+)"', html_text)


def test_report_has_every_section_with_its_figures(demo_report):
    page = demo_report
    assert re.findall(r"<section id='([^']+)'>", page) == list(SECTIONS)
    pairs = _section(page, "pair-models")
    assert {"roc", "pr", "calibration", "history"} <= set(_figures(pairs))
    assert "chance (base rate" not in pairs  # chance lines are drawn in the PNGs, not the page
    text = re.sub(r"<img [^>]*>", "", pairs)
    assert re.search(r"<td>\d+/\d+</td>", text) and "NaN" not in text and "nan" not in text  # positives / n
    genes = _section(page, "gene-models")
    assert {"r-per-fold", "expression-scatter", "history"} <= set(_figures(genes))
    prio = _section(page, "prioritisation")
    assert "planted drivers (truth.json)" in prio
    for block in ("prioritisation-abc", "prioritisation-epinformer", "prioritisation-crispr"):
        assert f"id='{block}'" in prio, block
    assert _figures(prio).count("pr-truth") == 2 and "score-distribution" in _figures(prio)
    assert "locus" in _figures(prio) and "pr-crispr" in _figures(prio)
    assert "attention_abc" in prio and "distance (nearest first)" in prio
    attribution = _section(page, "attribution")
    assert {"logo-cwm", "logo-ic", "tf-pairs-heatmap"} <= set(_figures(attribution))
    assert "<b>planted</b>" in attribution  # a JASPAR match of a planted motif is flagged
    assert "id='attribution-tf-pairs'" in attribution and "enhancer_tf" in attribution
    assert "distance-decay" in _figures(_section(page, "contacts"))
    versions = _section(page, "versions")
    assert "EPI_TRAIN" in versions and "2.13.0" in versions
    assert "src=\"http" not in page and "<script" not in page


def test_sections_of_absent_outputs_are_left_out(demo_results, tmp_path):
    out = tmp_path / "abc_only.html"
    _invoke(["report", demo_results / "abc", "-o", out])
    page = out.read_text()
    assert re.findall(r"<section id='([^']+)'>", page) == ["prioritisation"]
    assert "planted drivers" not in page  # no truth.json under abc/: the table's own labels
    assert "label column" in page


def test_discovery_classifies_outputs_by_header(demo_results, simulated):
    from epitools.report.discover import discover

    found = discover([demo_results, simulated])
    assert [p.name for p in found.runs] == ["metrics.json", "metrics.json"]
    assert [p.name for p in found.abc_tables] == ["abc.tsv"]
    assert [p.name for p in found.gene_scores] == ["scores.tsv"]
    assert [p.parent.name for p in found.evaluations] == ["crispr"]
    assert [p.parent.name for p in found.contacts] == ["contacts"]
    assert [p.name for p in found.truths] == ["truth.json"]
    assert len(found.motifs) == len(found.tf_pairs) == len(found.versions) == 1
    # the simulation's own pairs table and the evaluation's matched.tsv are not outputs to show
    assert not any(p.name in ("pairs.tsv", "matched.tsv") for p in found.abc_tables + found.contacts
                   if p.parent == simulated)


def test_screenshot_renders_without_console_errors(demo_results, demo_report, tmp_path, capsys):
    from epitools.report.screenshot import find_browser, main, screenshot

    if find_browser() is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install -y chromium-headless-shell)")
    png = tmp_path / "report.png"
    assert main([str(demo_results / "report.html"), str(png)]) == 0
    from PIL import Image

    with Image.open(png) as im:
        width, height = im.size
    assert width == 1300 and height > 3000  # every section drawn, blank rows cropped
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('boom'); undefinedFn();</script></body></html>")
    capsys.readouterr()
    assert main([str(broken), str(tmp_path / "b.png")]) == 1
    err = capsys.readouterr().err
    assert "console: \"boom\"" in err and "undefinedFn is not defined" in err
    # a page taller than the first viewport is drawn again taller, not cut
    tall = tmp_path / "tall.html"
    tall.write_text("<html><body style='margin:0'><div style='height:600px;background:#000'></div>"
                    "<p>end</p></body></html>")
    assert screenshot(tall, tmp_path / "tall.png", width=300, height=400, max_height=1600) == []
    with Image.open(tmp_path / "tall.png") as im:
        assert 600 < im.size[1] < 700
