"""Every module's command line, rendered with the ``test`` profile's values (ext.args and
params), runs as the same CLI call on simulated data, each in its own task directory with
its inputs staged by name, as Nextflow would run it.

Commands whose CLI module is not written yet are skipped with the reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pipeline_static as ps

PROFILE = "test"


@pytest.fixture(scope="module")
def pipeline(repo_root):
    return ps.Pipeline(repo_root)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


def run_task(pipeline, tasks: Path, process: str, inputs: dict, meta: dict, **extra) -> Path:
    """Stage ``inputs`` (name -> Path or None) in a task directory, render and run the command."""
    proc = pipeline.processes()[process]
    command, subcommand = proc.command()
    cmd, reason = ps.cli_command(pipeline.root, command, subcommand)
    if cmd is None:
        pytest.skip(f"{process}: {reason}")
    workdir = tasks / process.lower()
    workdir.mkdir(exist_ok=True)
    args = pipeline.ext_args(process, PROFILE) or ""
    if process == "EPI_TRAIN":
        # The profile's epoch count, cut to one here (click keeps the last value) to stay fast.
        args += " --epochs 1"
    binding = {"args": args, "task.cpus": 1}
    binding.update({f"params.{k}": v for k, v in pipeline.params(PROFILE).items()})
    binding.update({f"meta.{k}": v for k, v in meta.items()})
    for name, path in inputs.items():
        if path is None:
            binding[name] = ""
            continue
        staged = workdir / Path(path).name
        if not staged.exists():
            staged.symlink_to(Path(path).resolve())
        binding[name] = staged.name
    binding.update(extra)
    argv = ps.render_command(proc, binding)
    assert argv[0] == command
    args = argv[2:] if subcommand and cmd.name == subcommand else argv[1:]
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        result = CliRunner().invoke(cmd, args, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, f"{' '.join(argv)}\n{result.output}"
    return workdir


def test_simulate(pipeline, tasks):
    out = run_task(pipeline, tasks, "EPI_SIMULATE", {}, {"id": "sim"}, prefix="sim")
    for name in ("pairs.tsv", "genome.fa", "genome.fa.fai", "genes.tsv", "elements.bed", "hic.cool",
                 "dnase.bw", "h3k27ac.bw", "truth.json"):
        assert (out / "sim" / name).is_file(), name


def test_fetch_command_line_is_accepted(pipeline):
    """EPI_FETCH downloads; its rendered call is parsed by the click command (no network here)."""
    proc = pipeline.processes()["EPI_FETCH"]
    binding = {"args": pipeline.ext_args("EPI_FETCH", PROFILE) or "", "source": "genome",
               "accession": "hg19", "prefix": "hg19_genome"}
    argv = ps.render_command(proc, binding)
    cmd, reason = ps.cli_command(pipeline.root, argv[0], None)
    assert cmd is not None, reason
    ctx = cmd.make_context(argv[0], argv[1:])
    assert ctx.params["source"] == "genome" and ctx.params["ids"] == ("hg19",)
    assert ctx.params["out"] == "hg19_genome"


@pytest.fixture(scope="module")
def contacts(pipeline, tasks, simulated):
    out = run_task(pipeline, tasks, "HIC_CONTACTS", {"pairs": simulated / "pairs.tsv", "hic": simulated / "hic.cool"},
                   {"id": "sim"}, prefix="sim")
    return out / "sim.contacts.tsv"


def test_contacts(contacts):
    table = pd.read_csv(contacts, sep="\t")
    assert {"contact", "contact_norm"} <= set(table.columns) and len(table) > 0


@pytest.fixture(scope="module")
def store(pipeline, tasks, simulated, contacts):
    out = run_task(pipeline, tasks, "EPI_ENCODE",
                   {"pairs": contacts, "genome": simulated / "genome.fa", "genome_index": simulated / "genome.fa.fai"},
                   {"id": "sim", "encoding": "onehot", "cell_type": "SIM"}, prefix="sim.onehot")
    return out / "sim.onehot.h5"


@pytest.fixture(scope="module")
def run_dir(pipeline, tasks, store):
    out = run_task(pipeline, tasks, "EPI_TRAIN", {"store": store},
                   {"id": "sim", "model": "simcnn", "split": "chrom", "folds": 4, "fold": 1},
                   prefix="sim_simcnn_fold1")
    return out / "sim_simcnn_fold1"


def test_encode_train_predict_report(pipeline, tasks, store, run_dir):
    assert store.is_file()
    for name in ("model.pt", "metrics.json", "predictions.tsv"):
        assert (run_dir / name).is_file(), name
    out = run_task(pipeline, tasks, "EPI_PREDICT", {"model": run_dir / "model.pt", "store": store},
                   {"id": "sim", "model": "simcnn", "fold": 1}, prefix="sim_simcnn_fold1")
    assert "score" in pd.read_csv(out / "sim_simcnn_fold1.predictions.tsv", sep="\t").columns
    report_dir = tasks / "epi_report"
    (report_dir / "runs").mkdir(parents=True, exist_ok=True)
    staged = report_dir / "runs" / run_dir.name
    if not staged.exists():
        staged.symlink_to(run_dir.resolve())  # Nextflow stages runs/* as symlinks to the run dirs
    out = run_task(pipeline, tasks, "EPI_REPORT", {}, {"id": "sim"}, prefix="sim_report", runs="runs")
    assert (out / "sim_report.html").is_file() and (out / "sim_report.summary.tsv").is_file()


def test_attribute_and_modisco(pipeline, tasks, store, run_dir):
    out = run_task(pipeline, tasks, "EPI_ATTRIBUTE_SCORES", {"model": run_dir / "model.pt", "store": store},
                   {"id": "sim", "model": "simcnn"}, prefix="sim_attr")
    attributions = out / "sim_attr" / "attributions.npz"
    assert attributions.is_file()
    out = run_task(pipeline, tasks, "EPI_MODISCO", {"attributions": attributions},
                   {"id": "sim", "model": "simcnn"}, prefix="sim_motifs")
    assert (out / "sim_motifs").is_dir()


def _expression_table(genes_tsv: Path, out: Path) -> Path:
    """Every other gene's simulated expression as a CSV with an extra column (samplesheet `expression`)."""
    genes = pd.read_csv(genes_tsv, sep="\t")
    genes.iloc[::2][["gene", "expression"]].assign(note="x").to_csv(out, index=False)
    return out


def test_prioritize_genes_command_line_is_accepted(pipeline, tmp_path):
    """EPI_PRIORITIZE_GENES renders to a valid `epi-prioritize epinformer` call (parsed, not run)."""
    proc = pipeline.processes()["EPI_PRIORITIZE_GENES"]
    assert proc.command() == ("epi-prioritize", "epinformer")
    model, store = tmp_path / "model.pt", tmp_path / "sim.genes.h5"
    model.touch()
    store.touch()
    binding = {"args": pipeline.ext_args("EPI_PRIORITIZE_GENES", PROFILE) or "", "model": str(model),
               "store": str(store), "prefix": "sim_epinformer_prioritize"}
    argv = ps.render_command(proc, binding)
    cmd, reason = ps.cli_command(pipeline.root, argv[0], argv[1])
    assert cmd is not None, reason
    ctx = cmd.make_context(argv[1], argv[2:])
    assert ctx.params["model_path"] == str(model) and ctx.params["store_path"] == str(store)
    assert ctx.params["out"] == "sim_epinformer_prioritize" and ctx.params["device"] == "cpu"


def test_encode_genes_passes_the_expression_file(pipeline):
    proc = pipeline.processes()["EPI_ENCODE_GENES"]
    binding = {"args": "", "genes": "genes.tsv", "elements": "elements.bed", "genome": "genome.fa",
               "hic": "", "prefix": "sim"}
    assert "--expression" not in ps.render_command(proc, {**binding, "expression": ""})
    argv = ps.render_command(proc, {**binding, "expression": "rna.csv"})
    assert argv[argv.index("--expression") + 1] == "rna.csv"


@pytest.mark.slow
def test_gene_store_epinformer_prioritize_and_crispr(pipeline, tasks, simulated):
    expression = _expression_table(simulated / "genes.tsv", tasks / "expression.csv")
    out = run_task(pipeline, tasks, "EPI_ENCODE_GENES",
                   {"genes": simulated / "genes.tsv", "elements": simulated / "elements.bed",
                    "genome": simulated / "genome.fa", "genome_index": simulated / "genome.fa.fai",
                    "hic": simulated / "hic.cool", "expression": expression}, {"id": "sim"}, prefix="sim")
    gene_store = out / "sim.genes.h5"
    with h5py.File(gene_store) as h5:
        assert int(np.isfinite(h5["expression"][:]).sum()) == (len(pd.read_csv(simulated / "genes.tsv", sep="\t")) + 1) // 2
    params = pipeline.params(PROFILE)
    meta = {"id": "sim", "model": params["gene_model"], "split": "chrom12", "folds": params["gene_folds"], "fold": 1}
    out = run_task(pipeline, tasks, "EPI_TRAIN", {"store": gene_store}, meta, prefix="sim_epinformer_fold1")
    run = out / "sim_epinformer_fold1"
    assert (run / "metrics.json").is_file()
    out = run_task(pipeline, tasks, "EPI_PRIORITIZE_GENES", {"model": run / "model.pt", "store": gene_store},
                   meta, prefix="sim_epinformer_prioritize")
    scores = pd.read_csv(out / "sim_epinformer_prioritize" / "scores.tsv", sep="\t")
    assert {"attention", "abc", "attention_abc", "knockout", "distance", "rank_attention_abc"} <= set(scores.columns)
    # Every gene is scored, with or without a measured expression.
    assert scores["gene"].nunique() == len(pd.read_csv(simulated / "genes.tsv", sep="\t").query("gene in @scores.gene"))
    # CRISPRi evaluation of EPInformer's scores: the simulated drivers are the regulated pairs.
    truth = json.loads((simulated / "truth.json").read_text())
    drivers = {(gene, d["enhancer_id"]) for gene, info in truth["genes"].items() for d in info.get("drivers", [])}
    regulated = [(g, e) in drivers for g, e in zip(scores["gene"], scores["enhancer_name"])]
    assert any(regulated)
    bench = pd.DataFrame({
        "chrom": scores["enhancer_chrom"], "chromStart": scores["enhancer_start"], "chromEnd": scores["enhancer_end"],
        "measuredGeneSymbol": scores["gene"], "startTSS": scores["tss"],
        "Regulated": pd.Series(regulated).map({True: "TRUE", False: "FALSE"}), "ValidConnection": "TRUE",
        "name": scores["gene"] + "|" + scores["enhancer_chrom"] + ":" + scores["enhancer_start"].astype(str)
        + "-" + scores["enhancer_end"].astype(str) + ":sim", "CellType": "SIM"})
    bench_path = tasks / "crispr_genes_benchmark.tsv"
    bench.to_csv(bench_path, sep="\t", index=False)
    out = run_task(pipeline, tasks, "EPI_EVALUATE", {"predictions": out / "sim_epinformer_prioritize" / "scores.tsv",
                                                      "benchmark": bench_path},
                   {"id": "sim", "cell_type": "SIM", "predictor": "epinformer",
                    "score_column": params["crispr_score"]}, prefix="sim_epinformer_crispr")
    evaluation = pd.read_csv(out / "sim_epinformer_crispr" / "evaluation.tsv", sep="\t")
    assert any(name.endswith(f":{params['crispr_score']}") for name in evaluation["predictor"])


def test_prioritize_and_evaluate(pipeline, tasks, simulated, contacts):
    out = run_task(pipeline, tasks, "EPI_PRIORITIZE",
                   {"pairs": contacts, "dnase": simulated / "dnase.bw", "h3k27ac": simulated / "h3k27ac.bw",
                    "hic": simulated / "hic.cool"}, {"id": "sim"}, prefix="sim")
    scores = out / "sim.abc.tsv"
    table = pd.read_csv(scores, sep="\t")
    assert "abc_score" in table.columns
    # An ENCODE-rE2G style benchmark whose positives are the simulated interactions.
    bench = pd.DataFrame({
        "chrom": table["enhancer_chrom"], "chromStart": table["enhancer_start"], "chromEnd": table["enhancer_end"],
        "measuredGeneSymbol": table["gene"], "startTSS": table["tss"],
        "Regulated": table["label"].astype(bool).map({True: "TRUE", False: "FALSE"}), "ValidConnection": "TRUE",
        "name": table["gene"].astype(str) + "|" + table["enhancer_chrom"] + ":" + table["enhancer_start"].astype(str)
        + "-" + table["enhancer_end"].astype(str) + ":sim",
        "CellType": "SIM"})
    bench_path = tasks / "crispr_benchmark.tsv"
    bench.to_csv(bench_path, sep="\t", index=False)
    out = run_task(pipeline, tasks, "EPI_EVALUATE", {"predictions": scores, "benchmark": bench_path},
                   {"id": "sim", "cell_type": "SIM"}, prefix="sim_crispr")
    assert (out / "sim_crispr" / "evaluation.tsv").is_file()
