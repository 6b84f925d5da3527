"""Static checks of the Nextflow pipeline: parsing, module conventions, includes, CLI flags,
params vs schema, samplesheet schema. Each rule is also shown to fail on a broken copy."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import pipeline_config as pc
import pipeline_static as ps

PIPELINE_PATHS = ["main.nf", "nextflow.config", "nextflow_schema.json", "pyproject.toml",
                  "conf", "modules", "assets"]
MODULES = ["EPI_SIMULATE", "EPI_FETCH", "HIC_CONTACTS", "EPI_ENCODE", "EPI_TRAIN", "EPI_PREDICT",
           "EPI_ATTRIBUTE_SCORES", "EPI_MODISCO", "EPI_PRIORITIZE", "EPI_REPORT", "EPI_ENCODE_GENES",
           "EPI_PRIORITIZE_GENES", "EPI_EVALUATE", "EPI_MODELS", "EPI_SELECT",
           # --mode genome
           "EPI_CANDIDATE_REGIONS", "EPI_CANDIDATE_GENES", "EPI_ACTIVITY", "EPI_CANDIDATE_PAIRS",
           "EPI_ABC", "EPI_PREDICT_PAIRS", "EPI_LINKS", "EPI_TRACKS"]
GENOME_STEPS = ["EPI_CANDIDATE_REGIONS", "EPI_CANDIDATE_GENES", "EPI_ACTIVITY", "EPI_CANDIDATE_PAIRS",
                "HIC_CONTACTS", "EPI_ABC", "EPI_ENCODE_GENES", "EPI_TRAIN", "EPI_SELECT",
                "EPI_PRIORITIZE_GENES", "EPI_PREDICT_PAIRS", "EPI_LINKS", "EPI_TRACKS", "EPI_VARIANTS",
                "EPI_EVALUATE"]


@pytest.fixture()
def broken(repo_root, tmp_path):
    """A copy of the pipeline files to break one rule at a time."""
    for name in PIPELINE_PATHS:
        src = repo_root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def test_every_file_parses(repo_root):
    assert ps.check_parse(repo_root) == []


def test_every_issue_module_exists_with_conventions(repo_root):
    processes = ps.Pipeline(repo_root).processes()
    assert set(MODULES) <= set(processes)
    for name in MODULES:
        assert (repo_root / "modules/local" / name.lower() / "tests" / "main.nf.test").is_file(), name
    assert ps.check_processes(repo_root) == []


def test_includes_resolve_and_every_called_process_is_included(repo_root):
    assert ps.check_includes(repo_root) == []


def test_every_module_is_called_by_the_pipeline(repo_root):
    assert ps.check_wiring(repo_root) == []


def test_module_flags_exist_in_their_click_commands(repo_root):
    assert ps.check_cli_flags(repo_root) == []


def test_group_commands_name_their_subcommand(repo_root):
    """Scripts call a group's subcommand explicitly (epi-encode pairs/genes, epi-report html/select)."""
    calls = {name: proc.command() for name, proc in ps.Pipeline(repo_root).processes().items()}
    assert calls["EPI_ENCODE"] == ("epi-encode", "pairs")
    assert calls["EPI_ENCODE_GENES"] == ("epi-encode", "genes")
    assert calls["EPI_REPORT"] == ("epi-report", "html")
    assert calls["EPI_SELECT"] == ("epi-report", "select")
    cmd, reason = ps.cli_command(repo_root, "epi-report", "select")
    assert reason is None and "--metric" in ps._click_options(cmd)
    assert calls["EPI_CANDIDATE_REGIONS"] == ("epi-candidates", "regions")
    assert calls["EPI_CANDIDATE_GENES"] == ("epi-candidates", "genes")
    assert calls["EPI_ACTIVITY"] == ("epi-candidates", "activity")
    assert calls["EPI_CANDIDATE_PAIRS"] == ("epi-candidates", "pairs")
    assert calls["EPI_ABC"] == ("epi-prioritize", "abc") and calls["EPI_LINKS"] == ("epi-prioritize", "links")
    assert calls["EPI_TRACKS"] == ("epi-report", "tracks") and calls["EPI_PREDICT_PAIRS"] == ("epi-predict", None)
    assert "no subcommand 'runs'" in ps.cli_command(repo_root, "epi-report", "runs")[1]
    assert "takes no argument" in ps.cli_command(repo_root, "epi-predict", "scores")[1]


def test_each_model_trains_on_the_store_of_its_need(repo_root):
    """EPI_ENCODE runs per (encoding, augment_copies, max_shift) from the registry dump, the module
    passes them from meta, and each model's training tuple is the store whose meta holds its need."""
    assert ps.check_store_needs(repo_root) == []
    text = (repo_root / "main.nf").read_text()
    workflow = ps.blocks(text, "workflow")["EPITOOLS"]
    assert "ch_models.map { model, need, split -> need }.unique()" in workflow
    assert "meta.subMap(need.keySet()) == need" in workflow
    # No augmentation figure is written in Groovy or in a config: they are the models' class attributes.
    assert not re.search(r"augment_copies:\s*\d*[1-9]", text) and "--augment-copies" not in text
    assert ps.Pipeline(repo_root).params()["paper_data"] is True
    assert ps.Pipeline(repo_root).params("test")["paper_data"] is False  # the test profile stays fast


def test_broken_store_need_fails(broken):
    edit(broken / "modules/local/epi_encode/main.nf", "--max-shift ${meta.max_shift}", "--max-shift 100")
    edit(broken / "conf/test.config", "--enhancer-length 256 --promoter-length 256'",
         "--enhancer-length 256 --promoter-length 256 --augment-copies 3'")
    edit(broken / "main.nf", "(entry.paper_folds as int)", "(entry.folds as int)")
    edit(broken / "nextflow_schema.json", '"chrom_inner",', '"chrom_outer",')
    problems = ps.check_store_needs(broken)
    assert any("does not pass --max-shift ${meta.max_shift}" in p for p in problems)
    assert any("(test config) sets --augment-copies" in p for p in problems)
    assert any("reads entry.folds, not a column" in p for p in problems)
    assert any("does not read entry.paper_folds" in p for p in problems)
    assert any("split 'chrom_outer' is not an epi-train --split choice" in p for p in problems)


def test_model_selection_and_encodings_are_not_groovy(repo_root):
    """main.nf picks no run and decides no encoding itself: EPI_SELECT and the registry dump do."""
    text = (repo_root / "main.nf").read_text()
    assert "JsonSlurper" not in text and "metrics.json" not in text
    assert "kmer_models" not in text and "'kmer'" not in text and "'onehot'" not in text
    workflow = ps.blocks(text, "workflow")["EPITOOLS"]
    assert re.search(r"\bEPI_SELECT\(", workflow) and re.search(r"\bEPI_MODELS\(", workflow)
    assert "kmer_models" not in ps.Pipeline(repo_root).params()


def _genome_branch(repo_root) -> str:
    workflow = ps.blocks((repo_root / "main.nf").read_text(), "workflow")["EPITOOLS"]
    start = workflow.index("} else if (params.mode == 'genome') {")
    return workflow[start:workflow.index("    } else {", start)]


def test_genome_mode_runs_every_step_and_reports_them(repo_root):
    """--mode genome is a schema choice with its own branch calling each step once; its outputs
    reach EPI_REPORT besides the training runs."""
    schema = json.loads((repo_root / "nextflow_schema.json").read_text())
    mode = schema["$defs"]["input_output_options"]["properties"]["mode"]
    assert mode["enum"] == ["pairs", "genes", "genome"]
    branch = _genome_branch(repo_root)
    for step in GENOME_STEPS:
        assert len(re.findall(rf"\b{step}\(", branch)) == 1, step
    assert re.search(r"ch_report = .*EPI_ABC\.out\.scores", branch)
    assert "EPI_REPORT(bySample(ch_runs.mix(ch_report)))" in ps.blocks(
        (repo_root / "main.nf").read_text(), "workflow")["EPITOOLS"]
    # No step is done in Groovy: the branch runs no command and reads no table itself.
    assert "splitCsv" not in branch and "epi-" not in branch and ".text" not in branch
    params = ps.Pipeline(repo_root).params()
    assert params["track_score"] == "abc_score" and params["checkpoints"] is None


def test_params_defined_documented_and_used(repo_root):
    assert ps.check_params(repo_root) == []


def test_samplesheet_schema_and_example_agree(repo_root):
    assert ps.check_samplesheet(repo_root) == []


def test_profiles_are_parsed_with_their_settings(repo_root):
    config = pc.parse_config_file(repo_root / "nextflow.config")
    assert {"test", "local", "docker", "singularity", "apptainer", "gpu", "slurm", "awsbatch",
            "google"} <= set(config["profiles"])
    docker = pc.with_profiles(config, ["docker"])
    assert pc.groovy_literal(docker["docker"]["enabled"]) is True
    assert pc.groovy_literal(docker["singularity"]["enabled"]) is False
    test = ps.Pipeline(repo_root).params("test")
    assert test["simulate"] is True and test["run_folds"] == "1" and test["models"] == "simcnn,epiann"
    assert ps.Pipeline(repo_root).params()["simulate"] is False
    with pytest.raises(KeyError, match="no profile 'tset'"):
        pc.with_profiles(config, ["tset"])


def test_gpu_profile_maps_gpu_label(repo_root):
    config = pc.with_profiles(pc.parse_config_file(repo_root / "nextflow.config"), ["gpu"])
    gpu = config["process"]["withLabel:process_gpu"]
    assert gpu["accelerator"] == "params.gpus" and gpu["container"] == "params.container_gpu"
    options = pc.closure_body(gpu["containerOptions"])
    assert "'--gpus all'" in options and "'--nv'" in options and "workflow.containerEngine" in options
    # Without the profile, GPU processes get resources but no accelerator.
    plain = pc.parse_config_file(repo_root / "nextflow.config")["process"]["withLabel:process_gpu"]
    assert "accelerator" not in plain and "task.attempt" in plain["memory"]


def test_retry_on_scheduler_kills(repo_root):
    process = pc.parse_config_file(repo_root / "nextflow.config")["process"]
    strategy = pc.closure_body(process["errorStrategy"])
    assert re.fullmatch(r"task\.exitStatus in \(\(137\.\.140\) \+ 143\) \? 'retry' : 'finish'", strategy)
    assert pc.groovy_literal(process["maxRetries"]) >= 1
    for label in ps.REQUIRED_LABELS:
        assert "task.attempt" in process[f"withLabel:{label}"]["memory"], label


def test_ext_args_are_read_from_parsed_selectors(repo_root):
    pipe = ps.Pipeline(repo_root)
    assert pipe.ext_args("EPI_ENCODE") == "--compression lzf"
    assert pipe.ext_args("EPI_ENCODE", "test") == "--enhancer-length 256 --promoter-length 256"
    # A closure with ${params.x} is filled from the profile's params; a regex selector matches aliases.
    assert pipe.ext_args("EPI_SIMULATE") == "--preset small"
    assert pipe.ext_args("EPI_SIMULATE", "test").startswith("--preset tiny --n-chroms 8")
    assert pipe.ext_args("EPI_FETCH") == ""
    assert pipe.ext_args("EPI_SELECT") == "" and pipe.ext_args("EPI_MODELS") == ""


def test_config_reader_structure(tmp_path):
    (tmp_path / "inc.config").write_text("params { b = 2 }\nprocess { withName: 'X' { ext.args = '--y' } }\n")
    (tmp_path / "main.config").write_text(
        "// comment { not a scope\nparams {\n  a = 'x // not a comment'\n  b = 1\n}\n"
        "includeConfig 'inc.config'\nprocess.cpus = 2\nprocess {\n  withName: 'X' { ext.args = '--z' }\n"
        "  publishDir = [\n    path: 'p'\n  ]\n}\ndef stamp = new Date()\nprofiles { p { params.a = 'y' } }\n")
    config = pc.parse_config_file(tmp_path / "main.config")
    assert config["params"] == {"a": "'x // not a comment'", "b": "2"}
    assert config["process"]["cpus"] == "2" and config["process"]["publishDir"].startswith("[")
    # The included file's selector comes first; the later one in main.config wins.
    assert config["process"]["withName:X"] == {"ext": {"args": "'--z'"}}
    assert pc.with_profiles(config, ["p"])["params"]["a"] == "'y'" and "stamp" not in config


# ----------------------------------------------------------------------------- broken copies
def test_broken_missing_stub_fails(broken):
    path = broken / "modules/local/epi_predict/main.nf"
    text = path.read_text()
    path.write_text(text[:text.index("    stub:")] + "}\n")
    assert any("EPI_PREDICT: no stub block" in p for p in ps.check_processes(broken))


def test_broken_missing_versions_output_fails(broken):
    edit(broken / "modules/local/epi_report/main.nf", 'path "versions.yml"', 'path "version.txt"')
    assert any("EPI_REPORT: no versions.yml output" in p for p in ps.check_processes(broken))


def test_broken_gpu_label_fails(broken):
    edit(broken / "modules/local/epi_train/main.nf", "label 'process_gpu'", "label 'process_high'")
    assert any("EPI_TRAIN: must carry label 'process_gpu'" in p for p in ps.check_processes(broken))


def test_broken_misspelled_flag_fails(broken):
    edit(broken / "modules/local/epi_train/main.nf", "--data ${store}", "--dataset ${store}")
    assert any("EPI_TRAIN passes --dataset" in p for p in ps.check_cli_flags(broken))


def test_broken_misspelled_ext_args_flag_fails(broken):
    edit(broken / "conf/test.config", "--epochs 16", "--epoch 16")
    assert any("--epoch (ext.args (test config))" in p for p in ps.check_cli_flags(broken))


def test_broken_unknown_subcommand_fails(broken):
    edit(broken / "modules/local/epi_prioritize/main.nf", "epi-prioritize abc", "epi-prioritize abcd")
    assert any("no subcommand 'abcd'" in p for p in ps.check_cli_flags(broken))


def test_broken_subcommand_flag_is_checked_against_the_subcommand(broken):
    # --metric is an option of `epi-report select`, not of `epi-report html`.
    edit(broken / "modules/local/epi_report/main.nf", "--title ${meta.id}", "--metric ${meta.id}")
    assert any("EPI_REPORT passes --metric (script) but epi-report html has no such option" in p
               for p in ps.check_cli_flags(broken))


def test_broken_group_call_without_subcommand_fails(broken):
    edit(broken / "modules/local/epi_select/main.nf", "epi-report select runs", "epi-report runs")
    assert any("EPI_SELECT (epi-report): 'epi-report' has no subcommand 'runs'" in p
               for p in ps.check_cli_flags(broken))


def test_broken_missing_console_module_fails(broken):
    edit(broken / "pyproject.toml", 'epi-train = "epitools.cli.train:main"', 'epi-train = "epitools.cli.trainer:main"')
    assert any("epitools.cli.trainer (console script epi-train) does not exist" in p
               for p in ps.check_cli_flags(broken))


def test_broken_undocumented_param_fails(broken):
    edit(broken / "nextflow.config", "    seed                  = 0\n",
         "    seed                  = 0\n    extra_knob            = 3\n")
    edit(broken / "main.nf", "params.select_metric", "params.extra_knob")
    problems = ps.check_params(broken)
    assert any("params.extra_knob is not documented" in p for p in problems)


def test_broken_undefined_param_fails(broken):
    edit(broken / "modules/local/epi_encode/main.nf", "params.seed", "params.sed")
    assert any("params.sed is not defined" in p for p in ps.check_params(broken))


def test_broken_parse_error_fails(broken):
    edit(broken / "modules/local/epi_fetch/main.nf", "    input:\n", "    input: {\n")
    assert any("epi_fetch/main.nf: does not parse" in p for p in ps.check_parse(broken))


def test_broken_include_fails(broken):
    edit(broken / "main.nf", "include { EPI_REPORT                  }", "include { EPI_REPORTS }")
    problems = ps.check_includes(broken)
    assert any("'EPI_REPORTS' is not defined" in p for p in problems)
    assert any("calls EPI_REPORT which is not included" in p for p in problems)


def test_broken_samplesheet_fails(broken):
    edit(broken / "assets/samplesheet_test.csv", "K562_genes,K562,", "K562 genes,K562,")
    assert any("'sample' = 'K562 genes'" in p for p in ps.check_samplesheet(broken))


def test_broken_genome_samplesheet_fails(broken):
    edit(broken / "assets/samplesheet_genome.csv", "sim/peaks.narrowPeak", "sim/peaks.xls")
    assert any("samplesheet_genome.csv:2: 'peaks' = 'sim/peaks.xls'" in p for p in ps.check_samplesheet(broken))


def test_broken_row_layout_fails(broken):
    # A new samplesheet column must be added where main.nf indexes it (rows come in schema order).
    edit(broken / "main.nf", "peaks, annotation, atac, checkpoints", "annotation, peaks, atac, checkpoints")
    assert any("EPITOOLS takes samples as" in p for p in ps.check_samplesheet(broken))


def test_broken_uncalled_module_fails(broken):
    edit(broken / "main.nf", "EPI_TRACKS(\n", "// EPI_TRACKS dropped\n    [\n")
    assert any("process EPI_TRACKS is never called" in p for p in ps.check_wiring(broken))


def test_render_repeats_a_flag_per_file(repo_root):
    """EPI_LINKS passes each prediction table as its own --pairs-scores (one, several or none)."""
    proc = ps.Pipeline(repo_root).processes()["EPI_LINKS"]
    binding = {"args": "", "abc": "s.abc.tsv", "epinformer": "", "prefix": "s"}
    argv = ps.render_command(proc, {**binding, "predictions": ["a.predictions.tsv", "b.predictions.tsv"]})
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--pairs-scores"] == ["a.predictions.tsv",
                                                                                  "b.predictions.tsv"]
    one = ps.render_command(proc, {**binding, "predictions": "a.tsv"})
    assert one[one.index("--pairs-scores"):][:2] == ["--pairs-scores", "a.tsv"] and one.count("--pairs-scores") == 1
    assert "--pairs-scores" not in ps.render_command(proc, {**binding, "predictions": []})
    assert "--epinformer" not in argv
    with_epinformer = ps.render_command(proc, {**binding, "epinformer": "scores.tsv", "predictions": []})
    assert with_epinformer[with_epinformer.index("--epinformer") + 1] == "scores.tsv"


def test_output_patterns_and_missing_outputs(repo_root, tmp_path):
    """The declared outputs a task must write, as test_pipeline_commands checks after each call."""
    procs = ps.Pipeline(repo_root).processes()
    simulate = dict(ps.output_patterns(procs["EPI_SIMULATE"], {"prefix": "sim"}))
    # Both paths of `tuple val(meta), path(fasta), path(fai)` are outputs; versions.yml is not checked.
    assert {"sim/genome.fa", "sim/genome.fa.fai", "sim/truth.json"} <= set(simulate)
    assert "versions.yml" not in simulate and not any(simulate.values())
    fetch = procs["EPI_FETCH"]
    binding = {"prefix": "hg38_genome"}
    assert dict(ps.output_patterns(fetch, binding))["hg38_genome/*.{fai,gzi}"] is True
    assert ps.missing_outputs(fetch, binding, tmp_path) == ["hg38_genome", "hg38_genome/fetch.tsv"]
    (tmp_path / "hg38_genome").mkdir()
    (tmp_path / "hg38_genome" / "fetch.tsv").touch()
    assert ps.missing_outputs(fetch, binding, tmp_path) == []  # the optional globs may match nothing
    report = procs["EPI_REPORT"]
    (tmp_path / "r.html").touch()
    assert ps.missing_outputs(report, {"prefix": "r"}, tmp_path) == ["r.summary.tsv"]
