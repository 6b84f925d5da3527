"""Every module's command line, rendered with the ``test`` profile's values (ext.args and
params), runs as the same CLI call on simulated data, each in its own task directory with
its inputs staged by name, as Nextflow would run it; the outputs the process declares must
then exist. ``EPI_FETCH`` downloads from a loopback HTTP server started here.

Each process's run is a module fixture (``TASK_FIXTURES``); the last test runs them all and
fails when a module in ``modules/local/`` has no exercised call."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import h5py
import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pipeline_static as ps

sys.path.insert(0, str(Path(__file__).parent))
from http_fault_server import FaultServer, Route  # noqa: E402

PROFILE = "test"
# Processes whose rendered call ran to exit 0 with every declared output present.
RAN: set[str] = set()


@pytest.fixture(scope="module")
def pipeline(repo_root):
    return ps.Pipeline(repo_root)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def run_task(pipeline, tasks: Path, process: str, inputs: dict, meta: dict, *, task: str | None = None,
             extra_args: str = "", env: dict | None = None, full_schedule: bool = False, **extra) -> Path:
    """Stage ``inputs`` (name -> Path, list of Paths or None) in a task directory, render and run the command.

    ``extra_args`` is appended to the profile's ext.args (click keeps the last value of an
    option); ``env`` is set for the call only; ``extra`` binds further script values (prefix,
    ``val`` inputs, ...). A trailing ``> FILE`` gets the command's stdout.
    ``EPI_TRAIN`` runs one epoch unless ``full_schedule``.
    """
    proc = pipeline.processes()[process]
    command, subcommand = proc.command()
    cmd, reason = ps.cli_command(pipeline.root, command, subcommand)
    assert cmd is not None, f"{process}: {reason}"
    workdir = tasks / (task or process.lower())
    workdir.mkdir(exist_ok=True)
    args = " ".join(filter(None, [pipeline.ext_args(process, PROFILE) or "", extra_args]))
    if process == "EPI_TRAIN" and not full_schedule:
        # The profile's epoch count, cut to one here to stay fast.
        args += " --epochs 1"
    binding = {"args": args, "task.cpus": 1}
    binding.update({f"params.{k}": v for k, v in pipeline.params(PROFILE).items()})
    binding.update({f"meta.{k}": v for k, v in meta.items()})
    for name, path in inputs.items():
        if path is None:
            binding[name] = ""
        elif isinstance(path, (list, tuple)):  # a path input holding several files (or none)
            binding[name] = [_stage(workdir, p) for p in path]
        else:
            binding[name] = _stage(workdir, path)
    binding.update(extra)
    argv, stdout_file = ps.split_stdout(ps.render_command(proc, binding))
    assert argv[0] == command
    top, _ = ps.console_script(pipeline.root, command)
    args = argv[2:] if isinstance(top, click.Group) else argv[1:]
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        result = CliRunner().invoke(cmd, args, env=env, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, f"{' '.join(argv)}\n{result.output}"
    if stdout_file:
        (workdir / stdout_file).write_text(result.stdout)
    missing = ps.missing_outputs(proc, binding, workdir)
    assert not missing, f"{process}: declared outputs not written by {' '.join(argv)}: {missing}"
    RAN.add(process)
    return workdir


def _stage(workdir: Path, path) -> str:
    """Link ``path`` into the task directory under its own name, as Nextflow stages an input."""
    staged = workdir / Path(path).name
    if not staged.exists():
        staged.symlink_to(Path(path).resolve())
    return staged.name


@pytest.fixture(scope="module")
def simulated_task(pipeline, tasks):
    return run_task(pipeline, tasks, "EPI_SIMULATE", {}, {"id": "sim"}, prefix="sim") / "sim"


def test_simulate(simulated_task):
    out = simulated_task.parent
    for name in ("pairs.tsv", "genome.fa", "genome.fa.fai", "genes.tsv", "elements.bed", "hic.cool",
                 "dnase.bw", "h3k27ac.bw", "truth.json"):
        assert (out / "sim" / name).is_file(), name


def _fetch_request(value: str) -> tuple[dict, str, str]:
    """main.nf's fetchRequest: ``source:id`` -> (meta, source, accession)."""
    source, accession = value.split(":", 1)
    return {"id": re.sub(r"[^A-Za-z0-9_.-]", "_", accession), "key": value}, source, accession


FETCH_FASTA = ">chr1\n" + "ACGTTGCA" * 40 + "\n>chr2\n" + "GGGCCCAT" * 20 + "\n"
FETCH_SIZES = "chr1\t320\nchr2\t160\n"


@pytest.fixture(scope="module")
def fetched(pipeline, tasks, simulated):
    """EPI_FETCH for a `genome:` and a `url:` samplesheet value, served on 127.0.0.1.

    The genome preset is pointed at the server by its environment variable and the URL is
    the server's; --allow-http (plain http on loopback) comes in through the binding's args.
    """
    fa_gz = gzip.compress(FETCH_FASTA.encode())
    pairs_body = (simulated / "pairs.tsv").read_bytes()
    md5 = lambda data: hashlib.md5(data).hexdigest()  # noqa: E731
    with FaultServer() as server:
        root = "/goldenPath/hg38/bigZips"
        server.route(f"{root}/hg38.fa.gz", Route(body=fa_gz))
        server.route(f"{root}/hg38.chrom.sizes", Route(body=FETCH_SIZES.encode()))
        server.route(f"{root}/md5sum.txt", Route(body=(
            f"{md5(fa_gz)}  hg38.fa.gz\n{md5(FETCH_SIZES.encode())}  hg38.chrom.sizes\n").encode()))
        server.route("/files/pairs.tsv", Route(body=pairs_body))
        env = {"EPITOOLS_UCSC_URL": server.url("/goldenPath"), "EPITOOLS_CACHE": str(tasks / "fetch_cache"),
               "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
        out = {}
        for value in ("genome:hg38", f"url:{server.url('/files/pairs.tsv')}"):
            meta, source, accession = _fetch_request(value)
            prefix = f"{meta['id']}_{source}"
            workdir = run_task(pipeline, tasks, "EPI_FETCH", {}, meta, task=f"epi_fetch_{source}", env=env,
                               extra_args="--allow-http --retries 1 --backoff 0.01 --timeout 10",
                               source=source, accession=accession, prefix=prefix)
            out[source] = workdir / prefix
    return out, pairs_body


def test_fetch_genome_and_url(fetched, simulated):
    from epitools.io.genome import Genome
    from epitools.io.pairs import read_pairs
    out, pairs_body = fetched
    genome_dir = out["genome"]
    # What main.nf takes from the emits: the FASTA (genome) and its index files (genome_index).
    assert sorted(p.name for p in genome_dir.glob("*.fa.gz")) == ["hg38.fa.gz"]
    assert {p.name for p in genome_dir.glob("*.f*i")} == {"hg38.fa.gz.fai", "hg38.fa.gz.gzi"}
    genome = Genome(genome_dir / "hg38.fa.gz")
    assert genome.chrom_sizes == {"chr1": 320, "chr2": 160}
    assert "".join("ACGTN"[c] for c in genome.fetch_codes("chr2", 0, 8)) == "GGGCCCAT"
    url_dir = out["url"]
    tables = [p for p in url_dir.iterdir() if p.name != "fetch.tsv"]
    assert [p.name for p in tables] == ["pairs.tsv"] and tables[0].read_bytes() == pairs_body
    assert len(read_pairs(tables[0])) == len(read_pairs(simulated / "pairs.tsv"))
    manifest = pd.read_csv(url_dir / "fetch.tsv", sep="\t")
    assert list(manifest["path"]) == ["pairs.tsv"]


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
                   {"id": "sim", "encoding": "onehot", "augment_copies": 0, "max_shift": 0, "cell_type": "SIM"},
                   prefix="sim.onehot")
    return out / "sim.onehot.h5"


@pytest.fixture(scope="module")
def run_dir(pipeline, tasks, store):
    out = run_task(pipeline, tasks, "EPI_TRAIN", {"store": store},
                   {"id": "sim", "model": "simcnn", "split": "chrom", "folds": 4, "fold": 1},
                   prefix="sim_simcnn_fold1")
    return out / "sim_simcnn_fold1"


def test_test_profile_pair_models_beat_chance(pipeline, tasks, simulated_task):
    """On the test profile's own simulation (contacts → encode → train, every call as rendered),
    each pair model trained on its full schedule scores the held-out chromosomes well above
    chance, as tests/main.nf.test asserts of the pipeline run."""
    params = pipeline.params(PROFILE)
    assert params["paper_data"] is False  # the test profile trains every model on one unaugmented store
    sim = simulated_task
    contacts = run_task(pipeline, tasks, "HIC_CONTACTS", {"pairs": sim / "pairs.tsv", "hic": sim / "hic.cool"},
                        {"id": "profile"}, task="hic_contacts_profile", prefix="profile") / "profile.contacts.tsv"
    store = run_task(pipeline, tasks, "EPI_ENCODE",
                     {"pairs": contacts, "genome": sim / "genome.fa", "genome_index": sim / "genome.fa.fai"},
                     {"id": "profile", "encoding": "onehot", "augment_copies": 0, "max_shift": 0, "cell_type": "SIM"},
                     task="epi_encode_profile",
                     prefix="profile.onehot") / "profile.onehot.h5"
    for model in params["models"].split(","):
        prefix = f"profile_{model}_fold1"
        out = run_task(pipeline, tasks, "EPI_TRAIN", {"store": store},
                       {"id": "profile", "model": model, "split": "chrom", "folds": params["folds"], "fold": 1},
                       task=f"epi_train_{model}_profile", prefix=prefix, full_schedule=True)
        metrics = json.loads((out / prefix / "metrics.json").read_text())
        assert metrics["positives"] > 100 and metrics["auroc"] > 0.75, (model, metrics)


@pytest.fixture(scope="module")
def predictions(pipeline, tasks, store, run_dir):
    out = run_task(pipeline, tasks, "EPI_PREDICT", {"model": run_dir / "model.pt", "store": store},
                   {"id": "sim", "model": "simcnn", "fold": 1}, prefix="sim_simcnn_fold1")
    return out / "sim_simcnn_fold1.predictions.tsv"


@pytest.fixture(scope="module")
def report(pipeline, tasks, run_dir):
    report_dir = tasks / "epi_report"
    (report_dir / "runs").mkdir(parents=True, exist_ok=True)
    staged = report_dir / "runs" / run_dir.name
    if not staged.exists():
        staged.symlink_to(run_dir.resolve())  # Nextflow stages runs/* as symlinks to the run dirs
    out = run_task(pipeline, tasks, "EPI_REPORT", {}, {"id": "sim"}, prefix="sim_report", runs="runs")
    return out / "sim_report.html"


def test_encode_train_predict_report(store, run_dir, predictions, report):
    assert store.is_file()
    for name in ("model.pt", "metrics.json", "predictions.tsv"):
        assert (run_dir / name).is_file(), name
    assert "score" in pd.read_csv(predictions, sep="\t").columns
    assert report.is_file() and report.with_name("sim_report.summary.tsv").is_file()


@pytest.fixture(scope="module")
def attributions(pipeline, tasks, store, run_dir):
    out = run_task(pipeline, tasks, "EPI_ATTRIBUTE_SCORES", {"model": run_dir / "model.pt", "store": store},
                   {"id": "sim", "model": "simcnn"}, prefix="sim_attr")
    return out / "sim_attr" / "attributions.npz"


@pytest.fixture(scope="module")
def motifs(pipeline, tasks, attributions):
    out = run_task(pipeline, tasks, "EPI_MODISCO", {"attributions": attributions},
                   {"id": "sim", "model": "simcnn"}, prefix="sim_motifs")
    return out / "sim_motifs"


def test_attribute_and_modisco(attributions, motifs):
    assert attributions.is_file()
    assert motifs.is_dir()


@pytest.fixture(scope="module")
def registry(pipeline, tasks):
    """EPI_MODELS: the registry dump main.nf routes models by (name, encoding, task)."""
    out = run_task(pipeline, tasks, "EPI_MODELS", {}, {"id": "models"}, prefix="models")
    return pd.read_csv(out / "models.tsv", sep="\t")


def model_needs(registry: pd.DataFrame, paper_data: bool, split: str, folds: int) -> list:
    """main.nf's modelNeeds: (name, store need, split) of each pair model, from the registry dump."""
    found = []
    for row in registry[registry["task"] == "pairs"].itertuples():
        need = {"encoding": row.encoding, "augment_copies": int(row.augment_copies) if paper_data else 0,
                "max_shift": int(row.max_shift) if paper_data else 0}
        how = ({"split": row.paper_split, "folds": int(row.paper_folds)} if split == "paper"
               else {"split": split, "folds": folds})
        found.append((row.name, need, how))
    return found


@pytest.fixture(scope="module")
def model_runs(pipeline, tasks, simulated, contacts, registry):
    """main.nf's pairs branch with --models naming every registered pair model and --paper_data
    true: one EPI_ENCODE per distinct (encoding, augment_copies, max_shift) need the dump gives
    them (in meta), then EPI_TRAIN of each model on the store of its need (chrom folds: the tiny
    simulation has 4 chromosomes, fewer than the papers' 8 folds)."""
    needs = model_needs(registry, paper_data=True, split="chrom", folds=4)
    stores = {}
    for need in {tuple(need.items()) for _, need, _ in needs}:
        need = dict(need)
        prefix = f"all.{need['encoding']}.aug{need['augment_copies']}-{need['max_shift']}"
        stores[prefix] = run_task(
            pipeline, tasks, "EPI_ENCODE",
            {"pairs": contacts, "genome": simulated / "genome.fa", "genome_index": simulated / "genome.fa.fai"},
            {"id": "all", **need, "cell_type": "SIM"}, task=f"epi_encode_{prefix}", prefix=prefix) / f"{prefix}.h5"
    runs = {}
    for model, need, how in needs:
        prefix = f"all_{model}_fold1"
        store = stores[f"all.{need['encoding']}.aug{need['augment_copies']}-{need['max_shift']}"]
        runs[model] = (store, run_task(pipeline, tasks, "EPI_TRAIN", {"store": store},
                                       {"id": "all", "model": model, **how, "fold": 1},
                                       task=f"epi_train_{model}", prefix=prefix) / prefix)
    return stores, runs


def test_every_registered_model_gets_the_store_its_class_reads(model_runs, registry):
    """The registry dump, not a parameter, gives each model its store: epipam_kmer and epipdlf
    read k-mer ids, the others base codes, each with its paper's augmentation (EPIPAM 10 copies
    of each positive within +-100 bp, EPIANN 20, EPIPDLF none), and each trains on what it got
    (no ModelError). Augmented copies never add test rows: every model scores the same test pairs."""
    import torch

    from epitools.models.registry import available_models, get_model_class, model_task

    stores, runs = model_runs
    assert set(runs) == {m for m in available_models() if model_task(m) == "pairs"} >= {"epipam_kmer", "epipdlf"}
    assert dict(zip(registry["name"], registry["encoding"])) == {m: get_model_class(m).encoding
                                                                 for m in available_models()}
    # One store per need: EPIPAM x10 (one-hot) and EPIPAM* x10 (k-mer), EPIANN x20, and the
    # unaugmented k-mer store of EPIPDLF and one-hot store of SIMCNN.
    assert sorted(stores) == ["all.kmer.aug0-0", "all.kmer.aug10-100", "all.onehot.aug0-0",
                              "all.onehot.aug10-100", "all.onehot.aug20-100"]
    test_pairs = set()
    for model, (store, run) in runs.items():
        cls = get_model_class(model)
        encoding = cls.encoding
        with h5py.File(store) as h5:
            assert h5.attrs["encoding"] == encoding and h5["enhancer"].dtype == (
                np.int16 if encoding == "kmer" else np.uint8), model
            assert h5.attrs["augment_copies"] == getattr(cls, "augment_copies", 0), model
            n_rows, n_pairs = len(h5["label"]), int(h5.attrs["n_pairs"])
            positives = int(h5.attrs["n_positive_pairs"])
            assert n_rows == n_pairs + positives * getattr(cls, "augment_copies", 0), model
        checkpoint = torch.load(run / "model.pt", weights_only=True)
        assert (checkpoint["model"], checkpoint["encoding"]) == (model, encoding)
        metrics = json.loads((run / "metrics.json").read_text())
        pred = pd.read_csv(run / "predictions.tsv", sep="\t")
        assert metrics["n"] == len(pred) > 0 and pred["pair_id"].is_unique, model
        test_pairs.add(tuple(sorted(pred["pair_id"])))
    assert len(test_pairs) == 1, "models on augmented and plain stores scored different test rows"


@pytest.fixture(scope="module")
def paper_split_run(pipeline, tasks, model_runs, registry):
    """--split paper: EPIANN trains on its augmented store with its paper split (stratified
    90/10, 10 folds), as main.nf's modelNeeds routes it."""
    (name, need, how), = [n for n in model_needs(registry, True, "paper", 4) if n[0] == "epiann"]
    assert how == {"split": "stratified", "folds": 10} and need["augment_copies"] == 20
    stores, runs = model_runs
    store = runs["epiann"][0]
    prefix = "all_epiann_paper_fold1"
    return run_task(pipeline, tasks, "EPI_TRAIN", {"store": store}, {"id": "all", "model": name, **how, "fold": 1},
                    task="epi_train_epiann_paper", prefix=prefix) / prefix


def test_paper_split_trains_epiann_on_its_90_10_split(paper_split_run):
    metrics = json.loads((paper_split_run / "metrics.json").read_text())
    assert metrics["split"] == "stratified" and metrics["n"] > 0


def _selected_run(selection_dir: Path, runs) -> Path:
    """main.nf's join of EPI_SELECT's selection.tsv back to a training run, by directory name."""
    row = pd.read_csv(selection_dir / "selection.tsv", sep="\t").iloc[0]
    by_name = {Path(run).name: Path(run) for run in runs}
    assert row["run"] in by_name, (row["run"], sorted(by_name))
    return by_name[row["run"]]


def _stage_runs(workdir: Path, runs) -> None:
    # Nextflow stages `path(runs, stageAs: 'runs/*')` as symlinks to the run directories.
    (workdir / "runs").mkdir(parents=True, exist_ok=True)
    for run in runs:
        staged = workdir / "runs" / Path(run).name
        if not staged.exists():
            staged.symlink_to(Path(run).resolve())


@pytest.fixture(scope="module")
def pair_selection(pipeline, tasks, model_runs):
    """EPI_SELECT as main.nf calls it in pairs mode: --select_metric on the test fold."""
    runs = [run for store, run in model_runs[1].values()]
    _stage_runs(tasks / "epi_select_pairs", runs)
    metric = pipeline.params(PROFILE)["select_metric"]
    out = run_task(pipeline, tasks, "EPI_SELECT", {}, {"id": "all"}, task="epi_select_pairs",
                   prefix="all_selected", runs="runs", metric=metric, evaluated_on="test")
    return out / "all_selected", runs, metric


def test_pair_selection_is_the_best_test_metric(pair_selection):
    selection_dir, runs, metric = pair_selection
    values = {run: json.loads((run / "metrics.json").read_text())[metric] for run in runs}
    chosen = _selected_run(selection_dir, runs)
    assert values[chosen] == max(values.values())
    assert (selection_dir / "model.pt").read_bytes() == (chosen / "model.pt").read_bytes()


def _expression_table(genes_tsv: Path, out: Path) -> Path:
    """Every other gene's simulated expression as a CSV with an extra column (samplesheet `expression`)."""
    genes = pd.read_csv(genes_tsv, sep="\t")
    genes.iloc[::2][["gene", "expression"]].assign(note="x").to_csv(out, index=False)
    return out


def test_encode_genes_passes_the_expression_file(pipeline):
    proc = pipeline.processes()["EPI_ENCODE_GENES"]
    binding = {"args": "", "genes": "genes.tsv", "elements": "elements.bed", "genome": "genome.fa",
               "hic": "", "prefix": "sim"}
    assert "--expression" not in ps.render_command(proc, {**binding, "expression": ""})
    argv = ps.render_command(proc, {**binding, "expression": "rna.csv"})
    assert argv[argv.index("--expression") + 1] == "rna.csv"


@pytest.fixture(scope="module")
def gene_store(pipeline, tasks, simulated):
    expression = _expression_table(simulated / "genes.tsv", tasks / "expression.csv")
    out = run_task(pipeline, tasks, "EPI_ENCODE_GENES",
                   {"genes": simulated / "genes.tsv", "elements": simulated / "elements.bed",
                    "genome": simulated / "genome.fa", "genome_index": simulated / "genome.fa.fai",
                    "hic": simulated / "hic.cool", "expression": expression}, {"id": "sim"}, prefix="sim")
    return out / "sim.genes.h5"


@pytest.fixture(scope="module")
def gene_meta(pipeline):
    params = pipeline.params(PROFILE)
    return {"id": "sim", "model": params["gene_model"], "split": "chrom12", "folds": params["gene_folds"], "fold": 1}


@pytest.fixture(scope="module")
def gene_run(pipeline, tasks, gene_store, gene_meta):
    out = run_task(pipeline, tasks, "EPI_TRAIN", {"store": gene_store}, gene_meta, task="epi_train_genes",
                   prefix="sim_epinformer_fold1")
    return out / "sim_epinformer_fold1"


@pytest.fixture(scope="module")
def gene_selection(pipeline, tasks, gene_run):
    """EPI_SELECT as main.nf calls it in genes mode: validation Pearson R."""
    _stage_runs(tasks / "epi_select_genes", [gene_run])
    out = run_task(pipeline, tasks, "EPI_SELECT", {}, {"id": "sim"}, task="epi_select_genes",
                   prefix="sim_selected", runs="runs", metric="pearson_r", evaluated_on="val")
    return out / "sim_selected"


@pytest.fixture(scope="module")
def gene_scores(pipeline, tasks, gene_store, gene_run, gene_selection, gene_meta):
    # The model main.nf hands on: EPI_SELECT's copy of the chosen run's checkpoint.
    assert _selected_run(gene_selection, [gene_run]) == gene_run
    out = run_task(pipeline, tasks, "EPI_PRIORITIZE_GENES",
                   {"model": gene_selection / "model.pt", "store": gene_store},
                   gene_meta, prefix="sim_epinformer_prioritize")
    return out / "sim_epinformer_prioritize" / "scores.tsv"


@pytest.fixture(scope="module")
def gene_evaluation(pipeline, tasks, simulated, gene_scores):
    """EPI_EVALUATE of EPInformer's scores against a CRISPRi benchmark whose positives are the simulated drivers."""
    scores = pd.read_csv(gene_scores, sep="\t")
    truth = json.loads((simulated / "truth.json").read_text())
    drivers = {(gene, d["enhancer_id"]) for gene, info in truth["genes"].items() for d in info.get("drivers", [])}
    regulated = pd.Series([(g, e) in drivers for g, e in zip(scores["gene"], scores["enhancer_name"])])
    assert regulated.any()
    bench = pd.DataFrame({
        "chrom": scores["enhancer_chrom"], "chromStart": scores["enhancer_start"], "chromEnd": scores["enhancer_end"],
        "measuredGeneSymbol": scores["gene"], "startTSS": scores["tss"],
        "Regulated": regulated.map({True: "TRUE", False: "FALSE"}), "ValidConnection": "TRUE",
        "name": scores["gene"] + "|" + scores["enhancer_chrom"] + ":" + scores["enhancer_start"].astype(str)
        + "-" + scores["enhancer_end"].astype(str) + ":sim", "CellType": "SIM"})
    bench_path = tasks / "crispr_genes_benchmark.tsv"
    bench.to_csv(bench_path, sep="\t", index=False)
    score_column = pipeline.params(PROFILE)["crispr_score"]
    out = run_task(pipeline, tasks, "EPI_EVALUATE", {"predictions": gene_scores, "benchmark": bench_path},
                   {"id": "sim", "cell_type": "SIM", "predictor": "epinformer", "score_column": score_column},
                   task="epi_evaluate_genes", prefix="sim_epinformer_crispr")
    return out / "sim_epinformer_crispr" / "evaluation.tsv", score_column


def test_gene_store_epinformer_prioritize_and_crispr(simulated, gene_store, gene_run, gene_scores, gene_evaluation):
    genes = pd.read_csv(simulated / "genes.tsv", sep="\t")
    with h5py.File(gene_store) as h5:
        # Every other gene's expression was given (samplesheet `expression`); the rest are NaN.
        assert int(np.isfinite(h5["expression"][:]).sum()) == (len(genes) + 1) // 2
    assert (gene_run / "metrics.json").is_file()
    scores = pd.read_csv(gene_scores, sep="\t")
    assert {"attention", "abc", "attention_abc", "knockout", "distance", "rank_attention_abc"} <= set(scores.columns)
    # Every gene of the store is scored, with or without a measured expression.
    assert scores["gene"].nunique() == len(genes.query("gene in @scores.gene"))
    evaluation, score_column = gene_evaluation
    table = pd.read_csv(evaluation, sep="\t")
    assert any(name.endswith(f":{score_column}") for name in table["predictor"])


@pytest.fixture(scope="module")
def abc_scores(pipeline, tasks, simulated, contacts):
    out = run_task(pipeline, tasks, "EPI_PRIORITIZE",
                   {"pairs": contacts, "dnase": simulated / "dnase.bw", "h3k27ac": simulated / "h3k27ac.bw",
                    "hic": simulated / "hic.cool"}, {"id": "sim"}, prefix="sim")
    return out / "sim.abc.tsv"


@pytest.fixture(scope="module")
def crispr_evaluation(pipeline, tasks, abc_scores):
    """EPI_EVALUATE of ABC scores against an ENCODE-rE2G style benchmark of the simulated interactions."""
    table = pd.read_csv(abc_scores, sep="\t")
    bench = pd.DataFrame({
        "chrom": table["enhancer_chrom"], "chromStart": table["enhancer_start"], "chromEnd": table["enhancer_end"],
        "measuredGeneSymbol": table["gene"], "startTSS": table["tss"],
        "Regulated": table["label"].astype(bool).map({True: "TRUE", False: "FALSE"}), "ValidConnection": "TRUE",
        "name": table["gene"].astype(str) + "|" + table["enhancer_chrom"] + ":" + table["enhancer_start"].astype(str)
        + "-" + table["enhancer_end"].astype(str) + ":sim",
        "CellType": "SIM"})
    bench_path = tasks / "crispr_benchmark.tsv"
    bench.to_csv(bench_path, sep="\t", index=False)
    out = run_task(pipeline, tasks, "EPI_EVALUATE", {"predictions": abc_scores, "benchmark": bench_path},
                   {"id": "sim", "cell_type": "SIM"}, prefix="sim_crispr")
    return out / "sim_crispr" / "evaluation.tsv"


def test_prioritize_and_evaluate(abc_scores, crispr_evaluation):
    assert "abc_score" in pd.read_csv(abc_scores, sep="\t").columns
    assert crispr_evaluation.is_file()


@pytest.fixture(scope="module")
def variant_effects(pipeline, tasks, simulated, run_dir):
    out = run_task(pipeline, tasks, "EPI_VARIANTS",
                   {"vcf": simulated / "variants.vcf.gz", "fasta": simulated / "genome.fa",
                    "fasta_index": simulated / "genome.fa.fai", "models": run_dir / "model.pt",
                    "pairs": simulated / "pairs.tsv", "store": None},
                   {"id": "sim"}, prefix="sim_variants", extra_args="--null 50")
    return out / "sim_variants"


def test_variant_effects(variant_effects):
    summary = pd.read_csv(variant_effects / "summary.tsv", sep="\t")
    assert {"scored", "not_scored_outside_windows"} <= set(summary["status"])


# ----------------------------------------------------------------------------- --mode genome
# main.nf's genome branch on the simulator's raw files, as assets/samplesheet_genome.csv names
# them: peaks, GTF, DNase BAM (index beside it), H3K27ac bigWig, .hic and expression.
def test_genome_samplesheet_names_the_simulated_files(repo_root, simulated):
    sheet = pd.read_csv(repo_root / "assets" / "samplesheet_genome.csv", dtype=str).fillna("")
    row = sheet.iloc[0]
    for column in ("genome", "hic", "dnase", "h3k27ac", "expression", "vcf", "peaks", "annotation"):
        assert row[column].startswith("sim/") and (simulated / row[column][4:]).is_file(), column
    assert row["peaks"].endswith(".narrowPeak") and row["hic"].endswith(".hic") and row["dnase"].endswith(".bam")


@pytest.fixture(scope="module")
def genome_regions(pipeline, tasks, simulated):
    """EPI_CANDIDATE_REGIONS ranked by the DNase BAM (its .bai staged beside it), with the
    simulated promoters as the include-list (params.include_regions)."""
    out = run_task(pipeline, tasks, "EPI_CANDIDATE_REGIONS",
                   {"peaks": simulated / "peaks.narrowPeak", "signal": simulated / "dnase.bam",
                    "signal_index": simulated / "dnase.bam.bai", "genome": simulated / "genome.fa",
                    "genome_index": simulated / "genome.fa.fai", "include": simulated / "promoters.bed",
                    "block": None}, {"id": "sim"}, prefix="sim")
    return out / "sim.candidates.bed"


@pytest.fixture(scope="module")
def genome_genes(pipeline, tasks, simulated):
    expression = _expression_table(simulated / "genes.tsv", tasks / "genome_expression.csv")
    out = run_task(pipeline, tasks, "EPI_CANDIDATE_GENES",
                   {"annotation": simulated / "genes.gtf", "expression": expression,
                    "genome": simulated / "genome.fa", "genome_index": simulated / "genome.fa.fai"},
                   {"id": "sim"}, prefix="sim")
    return out / "sim.genes.tsv"


@pytest.fixture(scope="module")
def genome_elements(pipeline, tasks, simulated, genome_regions, genome_genes):
    out = run_task(pipeline, tasks, "EPI_ACTIVITY",
                   {"elements": genome_regions, "genes": genome_genes, "dnase": simulated / "dnase.bam",
                    "atac": None, "h3k27ac": simulated / "h3k27ac.bw", "indexes": [simulated / "dnase.bam.bai"],
                    "genome": simulated / "genome.fa", "genome_index": simulated / "genome.fa.fai"},
                   {"id": "sim"}, prefix="sim")
    return out / "sim.elements.bed"


@pytest.fixture(scope="module")
def genome_contacts(pipeline, tasks, simulated, genome_elements, genome_genes):
    """EPI_CANDIDATE_PAIRS -> HIC_CONTACTS on the simulated .hic."""
    out = run_task(pipeline, tasks, "EPI_CANDIDATE_PAIRS",
                   {"elements": genome_elements, "genes": genome_genes, "genome": simulated / "genome.fa",
                    "genome_index": simulated / "genome.fa.fai"}, {"id": "sim"}, prefix="sim")
    out = run_task(pipeline, tasks, "HIC_CONTACTS", {"pairs": out / "sim.pairs.tsv", "hic": simulated / "hic.hic"},
                   {"id": "sim"}, task="hic_contacts_genome", prefix="sim")
    return out / "sim.contacts.tsv"


@pytest.fixture(scope="module")
def genome_abc(pipeline, tasks, genome_contacts):
    out = run_task(pipeline, tasks, "EPI_ABC", {"pairs": genome_contacts}, {"id": "sim"}, prefix="sim")
    return out / "sim.abc.tsv", out / "sim_summaries"


def test_genome_candidates_activity_pairs_abc(simulated, genome_regions, genome_genes, genome_elements,
                                              genome_contacts, genome_abc):
    regions = pd.read_csv(genome_regions, sep="\t", header=None)
    promoters = pd.read_csv(simulated / "promoters.bed", sep="\t", header=None)
    # Every include-list promoter lies inside a candidate region.
    for chrom, start, end in promoters[[0, 1, 2]].itertuples(index=False):
        on = regions[regions[0] == chrom]
        assert ((on[1] <= start) & (on[2] >= end)).any(), (chrom, start, end)
    genes = pd.read_csv(genome_genes, sep="\t")
    simulated_genes = pd.read_csv(simulated / "genes.tsv", sep="\t")
    assert sorted(genes["gene"]) == sorted(simulated_genes["gene"])
    assert int(genes["expression"].notna().sum()) == (len(simulated_genes) + 1) // 2
    elements = pd.read_csv(genome_elements, sep="\t")
    assert len(elements) == len(regions) and (elements["activity"] > 0).all()
    assert {"promoter", "intergenic"} <= set(elements["class"])
    contacts = pd.read_csv(genome_contacts, sep="\t")
    assert {"contact_norm", "activity", "is_self_promoter"} <= set(contacts.columns)
    assert set(contacts["gene"]) == set(genes["gene"]) and contacts["is_self_promoter"].any()
    abc, summaries = genome_abc
    scores = pd.read_csv(abc, sep="\t")
    assert len(scores) == len(contacts) and scores["abc_score"].between(0, 1).all()
    assert any(p.name.startswith("GenePredictionStats") for p in summaries.iterdir())


@pytest.fixture(scope="module")
def genome_predictions(pipeline, tasks, simulated, genome_contacts, run_dir):
    """EPI_PREDICT_PAIRS: a pair-model checkpoint over every candidate pair; main.nf names a
    model.pt by its folder (checkpointsOf)."""
    name = run_dir.name
    out = run_task(pipeline, tasks, "EPI_PREDICT_PAIRS",
                   {"model": run_dir / "model.pt", "pairs": genome_contacts, "genome": simulated / "genome.fa",
                    "genome_index": simulated / "genome.fa.fai"}, {"id": "sim", "model": name}, prefix=name)
    return out / f"{name}.predictions.tsv"


@pytest.fixture(scope="module")
def genome_gene_store(pipeline, tasks, simulated, genome_genes, genome_elements):
    """EPI_ENCODE_GENES of the candidates (expression already joined: `expression` input empty)."""
    out = run_task(pipeline, tasks, "EPI_ENCODE_GENES",
                   {"genes": genome_genes, "elements": genome_elements, "genome": simulated / "genome.fa",
                    "genome_index": simulated / "genome.fa.fai", "hic": simulated / "hic.hic", "expression": None},
                   {"id": "sim"}, task="epi_encode_genes_genome", prefix="sim_genome")
    return out / "sim_genome.genes.h5"


@pytest.fixture(scope="module")
def genome_gene_run(pipeline, tasks, genome_gene_store, gene_meta):
    prefix = "sim_epinformer_fold1"
    out = run_task(pipeline, tasks, "EPI_TRAIN", {"store": genome_gene_store}, gene_meta,
                   task="epi_train_genome", prefix=prefix)
    return out / prefix


@pytest.fixture(scope="module")
def genome_gene_scores(pipeline, tasks, genome_gene_store, genome_gene_run, gene_meta):
    out = run_task(pipeline, tasks, "EPI_PRIORITIZE_GENES",
                   {"model": genome_gene_run / "model.pt", "store": genome_gene_store}, gene_meta,
                   task="epi_prioritize_genes_genome", prefix="sim_epinformer_prioritize")
    return out / "sim_epinformer_prioritize"


@pytest.fixture(scope="module")
def genome_links(pipeline, tasks, genome_abc, genome_gene_scores, genome_predictions):
    out = run_task(pipeline, tasks, "EPI_LINKS",
                   {"abc": genome_abc[0], "epinformer": genome_gene_scores / "scores.tsv",
                    "predictions": [genome_predictions]}, {"id": "sim"}, prefix="sim")
    return out / "sim.links.tsv"


@pytest.fixture(scope="module")
def genome_tracks(pipeline, tasks, simulated, genome_links):
    score_column = pipeline.params(PROFILE)["track_score"]
    out = run_task(pipeline, tasks, "EPI_TRACKS",
                   {"links": genome_links, "genome": simulated / "genome.fa",
                    "genome_index": simulated / "genome.fa.fai"}, {"id": "sim", "score_column": score_column},
                   prefix="sim_tracks")
    return out / "sim_tracks"


def test_genome_links_and_tracks(genome_abc, genome_links, genome_predictions, genome_tracks, run_dir):
    links = pd.read_csv(genome_links, sep="\t")
    abc = pd.read_csv(genome_abc[0], sep="\t")
    checkpoint = f"{run_dir.name}_score"
    assert len(links) == len(abc)
    assert {"abc_score", "epinformer_attention_abc", checkpoint, "rank_abc_score", f"rank_{checkpoint}"} <= set(links.columns)
    assert links[checkpoint].between(0, 1).all()
    bedpe = pd.read_csv(genome_tracks / "links.bedpe", sep="\t")
    assert len(bedpe) == len(links)
    assert (genome_tracks / "links.interact").stat().st_size > 0 and "track" in (genome_tracks / "tracks.txt").read_text()


@pytest.fixture(scope="module")
def genome_evaluation(pipeline, tasks, simulated, genome_abc, genome_genes):
    """EPI_EVALUATE of the genome-wide ABC against a CRISPRi screen of the planted drivers:
    every simulated enhancer tested against every gene of its chromosome."""
    truth = json.loads((simulated / "truth.json").read_text())
    drivers = {(gene, d["enhancer_id"]) for gene, info in truth["genes"].items() for d in info.get("drivers", [])}
    enhancers = pd.read_csv(simulated / "enhancers.bed", sep="\t", header=None).iloc[:, :4]
    enhancers.columns = ["chrom", "chromStart", "chromEnd", "enhancer"]
    genes = pd.read_csv(genome_genes, sep="\t")[["gene", "chrom", "tss"]]
    bench = enhancers.merge(genes, on="chrom")
    regulated = pd.Series([(g, e) in drivers for g, e in zip(bench["gene"], bench["enhancer"])])
    assert regulated.any()
    bench = pd.DataFrame({
        "chrom": bench["chrom"], "chromStart": bench["chromStart"], "chromEnd": bench["chromEnd"],
        "measuredGeneSymbol": bench["gene"], "startTSS": bench["tss"],
        "Regulated": regulated.map({True: "TRUE", False: "FALSE"}), "ValidConnection": "TRUE",
        "name": bench["gene"] + "|" + bench["chrom"] + ":" + bench["chromStart"].astype(str) + "-"
        + bench["chromEnd"].astype(str) + ":sim", "CellType": "SIM"})
    bench_path = tasks / "crispr_genome_benchmark.tsv"
    bench.to_csv(bench_path, sep="\t", index=False)
    out = run_task(pipeline, tasks, "EPI_EVALUATE", {"predictions": genome_abc[0], "benchmark": bench_path},
                   {"id": "sim", "cell_type": "SIM"}, task="epi_evaluate_genome", prefix="sim_crispr")
    return out / "sim_crispr" / "evaluation.tsv", float(regulated.mean())


def test_genome_abc_recovers_planted_drivers(genome_evaluation):
    evaluation, prevalence = genome_evaluation
    table = pd.read_csv(evaluation, sep="\t")
    abc = table[table["predictor"].str.endswith(":abc_score")]["AUPRC"]
    distance = table[table["predictor"].str.startswith("distance")]["AUPRC"]
    # Planted drivers are active and in contact: ABC ranks them far above chance and distance.
    assert len(abc) == 1 and abc.iloc[0] > 5 * prevalence and abc.iloc[0] > distance.max(), (table, prevalence)


def _genome_variants(pipeline, tasks, simulated, pairs, checkpoints, store, task) -> Path:
    """EPI_VARIANTS as the genome branch calls it: every checkpoint of the sample (pair models
    and the selected EPInformer) with the candidate pairs and the gene store (or none)."""
    workdir = tasks / task
    models = []
    # Checkpoints are all model.pt: staged as model1/, model2/ (the module's stageAs: 'model*/*').
    for k, checkpoint in enumerate(checkpoints, start=1):
        (workdir / f"model{k}").mkdir(parents=True, exist_ok=True)
        models.append(f"model{k}/{_stage(workdir / f'model{k}', checkpoint)}")
    out = run_task(pipeline, tasks, "EPI_VARIANTS",
                   {"vcf": simulated / "variants.vcf.gz", "fasta": simulated / "genome.fa",
                    "fasta_index": simulated / "genome.fa.fai", "pairs": pairs, "store": store},
                   {"id": "sim"}, task=task, prefix="sim_variants", extra_args="--null 20", models=models)
    return out / "sim_variants"


@pytest.fixture(scope="module")
def genome_variants(pipeline, tasks, simulated, genome_contacts, run_dir):
    """A sample with a pair-model checkpoint and no expression: the candidate pairs are scored."""
    return _genome_variants(pipeline, tasks, simulated, genome_contacts, [run_dir / "model.pt"], None,
                            "epi_variants_genome")


def test_genome_variants_score_the_candidate_pairs(genome_variants):
    effects = pd.read_csv(genome_variants / "effects.tsv", sep="\t")
    summary = pd.read_csv(genome_variants / "summary.tsv", sep="\t")
    assert len(effects) > 0 and "scored" in set(summary["status"])


def test_genome_variants_with_epinformer(pipeline, tasks, simulated, genome_contacts, genome_gene_store,
                                         genome_gene_run, run_dir):
    out = _genome_variants(pipeline, tasks, simulated, genome_contacts,
                           [run_dir / "model.pt", genome_gene_run / "model.pt"], genome_gene_store,
                           "epi_variants_genome_epinformer")
    assert len(pd.read_csv(out / "effects.tsv", sep="\t")) > 0


@pytest.fixture(scope="module")
def genome_report(pipeline, tasks, genome_contacts, genome_abc, genome_gene_scores, genome_gene_run,
                  genome_evaluation):
    """EPI_REPORT of a genome-mode sample: its runs plus contacts (with sidecar), ABC,
    EPInformer scores and the CRISPRi evaluation, staged under runs/ as main.nf's ch_report."""
    staged = [genome_gene_run, genome_contacts, genome_contacts.with_name(genome_contacts.name + ".json"),
              genome_abc[0], genome_gene_scores, genome_evaluation[0].parent]
    _stage_runs(tasks / "epi_report_genome", staged)
    out = run_task(pipeline, tasks, "EPI_REPORT", {}, {"id": "sim"}, task="epi_report_genome",
                   prefix="sim_report", runs="runs")
    return out / "sim_report.html"


def test_genome_report_shows_the_genome_outputs(genome_report):
    from epitools.report.discover import discover

    found = discover([genome_report.parent / "runs"]).counts()
    assert found["runs"] == 1 and found["abc_tables"] == 1 and found["gene_scores"] == 1
    assert found["evaluations"] == 1 and found["contacts"] == 1
    assert genome_report.read_text().count("<html") == 1


# Which module fixture runs each process's rendered call. A process added to modules/local/
# without an entry here fails test_every_module_call_is_run.
TASK_FIXTURES = {
    "EPI_SIMULATE": ["simulated_task"],
    "EPI_FETCH": ["fetched"],
    "HIC_CONTACTS": ["contacts", "genome_contacts"],
    "EPI_ENCODE": ["store", "model_runs"],
    "EPI_ENCODE_GENES": ["gene_store", "genome_gene_store"],
    "EPI_TRAIN": ["run_dir", "gene_run", "model_runs", "paper_split_run", "genome_gene_run"],
    "EPI_PREDICT": ["predictions"],
    "EPI_REPORT": ["report", "genome_report"],
    "EPI_MODELS": ["registry"],
    "EPI_SELECT": ["pair_selection", "gene_selection"],
    "EPI_ATTRIBUTE_SCORES": ["attributions"],
    "EPI_MODISCO": ["motifs"],
    "EPI_PRIORITIZE": ["abc_scores"],
    "EPI_PRIORITIZE_GENES": ["gene_scores", "genome_gene_scores"],
    "EPI_EVALUATE": ["crispr_evaluation", "gene_evaluation", "genome_evaluation"],
    "EPI_VARIANTS": ["variant_effects", "genome_variants"],
    "EPI_CANDIDATE_REGIONS": ["genome_regions"],
    "EPI_CANDIDATE_GENES": ["genome_genes"],
    "EPI_ACTIVITY": ["genome_elements"],
    "EPI_CANDIDATE_PAIRS": ["genome_contacts"],
    "EPI_ABC": ["genome_abc"],
    "EPI_PREDICT_PAIRS": ["genome_predictions"],
    "EPI_LINKS": ["genome_links"],
    "EPI_TRACKS": ["genome_tracks"],
}


def test_every_module_call_is_run(pipeline, request):
    """Each module in modules/local/ defines processes, and each process's call runs above."""
    modules = sorted(p for p in (pipeline.root / "modules" / "local").iterdir() if p.is_dir())
    by_module = {m.name: {name for name, proc in pipeline.processes().items() if proc.path.parent == m}
                 for m in modules}
    assert all(by_module.values()), f"modules without a (parsable) process: {[m for m, p in by_module.items() if not p]}"
    present = set().union(*by_module.values())
    assert present - set(TASK_FIXTURES) == set(), "processes whose rendered call no test runs"
    assert set(TASK_FIXTURES) - present == set(), "TASK_FIXTURES names processes that no longer exist"
    for fixtures in TASK_FIXTURES.values():
        for name in fixtures:
            request.getfixturevalue(name)
    assert present - RAN == set(), "processes whose fixture did not run their call"
