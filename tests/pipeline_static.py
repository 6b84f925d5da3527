"""Static checks of the Nextflow pipeline (Nextflow itself is not needed).

Each ``check_*`` function takes the repository root and returns a list of problems
(strings naming the file and what is wrong); an empty list means the rule holds.
``tests/test_pipeline_static.py`` runs them on the tree and on broken copies of it;
``tests/test_pipeline_commands.py`` uses :func:`render_command` to run each module's
command line on simulated data.

Parsing is done by ``reftrace`` (a Nextflow parser); the few things reftrace does not
expose (process sections, script text) are read from the text with brace matching that
skips strings and comments, and config files (params, profiles, ``ext.args``) are read
into nested dicts by :mod:`pipeline_config`.
"""

from __future__ import annotations

import csv
import functools
import importlib
import importlib.util
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import click
import reftrace

from pipeline_config import (closure_body, groovy_literal, matching_brace, parse_config_file,
                             selector_settings, with_profiles)

SECTION_RE = re.compile(r"^\s*(input|output|when|script|shell|exec|stub|topic):\s*$", re.M)
FLAG_RE = re.compile(r"(?<![\w-])(--[A-Za-z][\w-]*)")
COMMAND_RE = re.compile(r"(?<![\w-])(epi-[a-z]+)\b(?:[ \t]+(?!\\)([a-z][a-z0-9-]*))?")
PARAM_RE = re.compile(r"\bparams\.([A-Za-z_]\w*)")
GPU_PROCESSES = {"EPI_TRAIN", "EPI_ATTRIBUTE_SCORES", "EPI_PRIORITIZE_GENES", "EPI_PREDICT_PAIRS"}
REQUIRED_LABELS = {"process_single", "process_low", "process_medium", "process_high", "process_gpu"}


# ----------------------------------------------------------------------------- text helpers
def blocks(text: str, head: str) -> dict[str, str]:
    """Bodies of ``<head> NAME {...}`` blocks (e.g. ``process``), by name."""
    found = {}
    for m in re.finditer(rf"^\s*{head}\s+([A-Za-z_]\w*)\s*\{{", text, re.M):
        start = m.end() - 1
        found[m.group(1)] = text[start + 1:matching_brace(text, start)]
    return found


def sections(body: str) -> dict[str, str]:
    """A process body split into its ``input: output: script: stub:`` sections."""
    marks = list(SECTION_RE.finditer(body))
    return {m.group(1): body[m.end():(marks[k + 1].start() if k + 1 < len(marks) else len(body))]
            for k, m in enumerate(marks)}


def command_text(script: str) -> str:
    """The script section without the versions.yml heredoc."""
    return script.split("cat <<-END_VERSIONS")[0]


# ----------------------------------------------------------------------------- the pipeline
@functools.lru_cache(maxsize=512)
def _parse_module(path: str, mtime_ns: int, size: int):
    """reftrace parse of a .nf file, cached while the file is unchanged."""
    return reftrace.Module.from_file(path)


@dataclass
class Process:
    name: str
    path: Path
    body: str
    parsed: object  # reftrace.Process

    @property
    def sections(self) -> dict[str, str]:
        return sections(self.body)

    @property
    def script(self) -> str:
        return self.sections.get("script", "")

    def command(self) -> tuple[str | None, str | None]:
        """The ``epi-*`` command the script runs and its subcommand (None when not a group call)."""
        m = COMMAND_RE.search(command_text(self.script))
        return (m.group(1), m.group(2)) if m else (None, None)

    def flags(self) -> set[str]:
        return set(FLAG_RE.findall(command_text(self.script)))


@dataclass
class Pipeline:
    root: Path
    errors: list[str] = field(default_factory=list)
    _config: dict | None = field(default=None, repr=False)

    def nf_files(self) -> list[Path]:
        files = [self.root / "main.nf"] + sorted((self.root / "modules").rglob("*.nf"))
        files += sorted((self.root / "subworkflows").rglob("*.nf")) if (self.root / "subworkflows").is_dir() else []
        return [f for f in files if f.is_file() and not f.name.endswith(".nf.test")]

    def config_files(self) -> list[Path]:
        files = [self.root / "nextflow.config"] + sorted((self.root / "conf").glob("*.config"))
        files += [self.root / "tests" / "nextflow.config", self.root / "nf-test.config"]
        files += sorted((self.root / "modules").rglob("tests/nextflow.config"))
        return [f for f in files if f.is_file()]

    def module(self, path: Path):
        stat = Path(path).stat()
        return _parse_module(str(path), stat.st_mtime_ns, stat.st_size)

    def processes(self) -> dict[str, Process]:
        found = {}
        for path in sorted((self.root / "modules").rglob("main.nf")):
            parsed = self.module(path)
            if isinstance(parsed, reftrace.ParseError):
                continue
            bodies = blocks(path.read_text(), "process")
            for proc in parsed.processes:
                found[proc.name] = Process(proc.name, path, bodies.get(proc.name, ""), proc)
        return found

    def aliases(self) -> dict[str, str]:
        """Name used in main.nf -> process name (``include { A as B }``)."""
        parsed = self.module(self.root / "main.nf")
        if isinstance(parsed, reftrace.ParseError):
            return {}
        return {(item.alias or item.name): item.name for inc in parsed.includes
                for item in inc.items if not inc.from_module.startswith("plugin/")}

    def config(self, profile: str | None = None) -> dict:
        """nextflow.config (includes followed) with ``profile`` applied, as a nested dict.

        Read once per :class:`Pipeline` (a check of a broken copy makes a new one).
        """
        if self._config is None:
            self._config = parse_config_file(self.root / "nextflow.config")
        return with_profiles(self._config, [profile] if profile else [])

    def params(self, profile: str | None = None) -> dict:
        """Parameter values of nextflow.config with ``profile`` applied, as Python literals."""
        return {k: groovy_literal(v) for k, v in self.config(profile).get("params", {}).items()}

    def process_settings(self, process: str, profile: str | None = None) -> dict:
        """Settings of the ``withName`` selectors matching ``process`` (by name or alias)."""
        names = {process} | {alias for alias, real in self.aliases().items() if real == process}
        qualified = names | {f"EPITOOLS:{n}" for n in names}
        return selector_settings(self.config(profile).get("process", {}), "withName", qualified)

    def ext_args(self, process: str, profile: str | None = None) -> str | None:
        """``ext.args`` of a process (by name or alias) with ``${params.x}`` filled in."""
        value = self.process_settings(process, profile).get("ext", {}).get("args")
        if value is None:
            return None
        text = groovy_literal(closure_body(value))
        if not isinstance(text, str):
            raise ValueError(f"ext.args of {process} is not a string or a closure returning one: {value}")
        params = self.params(profile)
        return re.sub(r"\$\{params\.(\w+)\}", lambda p: str(params.get(p.group(1))), text)


# ----------------------------------------------------------------------------- checks
def check_parse(root: Path) -> list[str]:
    """Every .nf and .config file parses."""
    pipe, problems = Pipeline(Path(root)), []
    for path in pipe.nf_files():
        parsed = pipe.module(path)
        if isinstance(parsed, reftrace.ParseError):
            problems.append(f"{path}: does not parse: {parsed.error}")
    for path in pipe.config_files():
        result = reftrace.ConfigFile.from_file(str(path))
        if result.error is not None:
            problems.append(f"{path}: does not parse: {result.error.error}")
    return problems


def check_processes(root: Path) -> list[str]:
    """Every process has tag, label, container, ext.args, a versions output and a stub."""
    problems = []
    for name, proc in Pipeline(Path(root)).processes().items():
        where = f"{proc.path}: process {name}"
        if not proc.parsed.tags:
            problems.append(f"{where}: no tag")
        labels = {lab.value for lab in proc.parsed.labels}
        if not labels & REQUIRED_LABELS:
            problems.append(f"{where}: no resource label ({', '.join(sorted(REQUIRED_LABELS))})")
        if name in GPU_PROCESSES and "process_gpu" not in labels:
            problems.append(f"{where}: must carry label 'process_gpu'")
        if not proc.parsed.containers:
            problems.append(f"{where}: no container")
        secs = proc.sections
        if "versions.yml" not in secs.get("output", ""):
            problems.append(f"{where}: no versions.yml output")
        if "task.ext.args" not in secs.get("script", ""):
            problems.append(f"{where}: script does not read task.ext.args")
        if not secs.get("stub", "").strip():
            problems.append(f"{where}: no stub block")
        elif "versions.yml" not in secs["stub"]:
            problems.append(f"{where}: stub does not write versions.yml")
        if "tuple val(meta)" not in secs.get("input", "") and "val(meta)" not in secs.get("input", ""):
            problems.append(f"{where}: inputs are not tuple val(meta), ...")
    return problems


def check_includes(root: Path) -> list[str]:
    """Includes resolve to files defining the named processes; every called process is included."""
    pipe, problems = Pipeline(Path(root)), []
    for path in pipe.nf_files():
        parsed = pipe.module(path)
        if isinstance(parsed, reftrace.ParseError):
            continue
        for inc in parsed.includes:
            if inc.from_module.startswith("plugin/"):
                continue
            target = (path.parent / inc.from_module).resolve()
            target = target if target.suffix == ".nf" else target.with_suffix(".nf")
            if not target.is_file():
                problems.append(f"{path}:{inc.line}: include from '{inc.from_module}': no file {target}")
                continue
            module = pipe.module(target)
            defined = set() if isinstance(module, reftrace.ParseError) else (
                {p.name for p in module.processes} | {w.name for w in module.workflows})
            for item in inc.items:
                if item.name not in defined:
                    problems.append(f"{path}:{inc.line}: '{item.name}' is not defined in {target}")
    main = pipe.root / "main.nf"
    parsed = pipe.module(main)
    if not isinstance(parsed, reftrace.ParseError):
        known = set(pipe.aliases()) | {w.name for w in parsed.workflows if w.name}
        text = main.read_text()
        for body in blocks(text, "workflow").values():
            for m in re.finditer(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{3,})\s*\(", body):
                if m.group(1) not in known:
                    problems.append(f"{main}: workflow calls {m.group(1)} which is not included")
    return problems


def check_wiring(root: Path) -> list[str]:
    """Every process under modules/ is included in main.nf and called by one of its workflows."""
    pipe = Pipeline(Path(root))
    # main.nf without includes and comment lines: what is left calls processes.
    code = "\n".join(line for line in (pipe.root / "main.nf").read_text().splitlines()
                     if not re.match(r"\s*(include\b|//|\*|/\*)", line))
    called = {pipe.aliases().get(name, name) for name in re.findall(r"\b([A-Z][A-Z0-9_]*)\s*\(", code)}
    return [f"{proc.path}: process {name} is never called in main.nf"
            for name, proc in sorted(pipe.processes().items()) if name not in called]


def _pyproject_scripts(root: Path) -> dict[str, str]:
    data = tomllib.loads((Path(root) / "pyproject.toml").read_text())
    return data["project"]["scripts"]


def _click_options(cmd) -> set[str]:
    return {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)
            if opt.startswith("--")} | {"--help"}


def console_script(root: Path, command: str):
    """The click object of console script ``command``, or ``(None, reason)``."""
    scripts = _pyproject_scripts(root)
    if command not in scripts:
        return None, f"'{command}' is not a console script of the package"
    module_name = scripts[command].split(":")[0]
    if importlib.util.find_spec(module_name) is None:
        return None, f"{module_name} (console script {command}) does not exist"
    return importlib.import_module(module_name).main, None


def cli_command(root: Path, command: str, subcommand: str | None):
    """``(click command, None)`` that ``command subcommand`` runs, or ``(None, reason)``.

    A group needs one of its subcommands named (a default subcommand is not relied on); a
    plain command followed by a word must take a positional argument for it.
    """
    cmd, reason = console_script(root, command)
    if cmd is None:
        return None, reason
    if isinstance(cmd, click.Group):
        if subcommand is None or subcommand not in cmd.commands:
            return None, f"'{command}' has no subcommand '{subcommand}' ({', '.join(sorted(cmd.commands))})"
        return cmd.commands[subcommand], None
    if subcommand is not None and not any(isinstance(p, click.Argument) for p in cmd.params):
        return None, f"'{command}' has no subcommands and takes no argument, but the script passes '{subcommand}'"
    return cmd, None


def check_cli_flags(root: Path, profiles=(None, "test")) -> list[str]:
    """Every --flag of a module script and of its ext.args exists in its click (sub)command."""
    pipe, problems = Pipeline(Path(root)), []
    for name, proc in pipe.processes().items():
        command, subcommand = proc.command()
        if command is None:
            problems.append(f"{proc.path}: process {name} runs no epi-* command")
            continue
        cmd, reason = cli_command(root, command, subcommand)
        if cmd is None:
            problems.append(f"{proc.path}: {name} ({command}): {reason}")
            continue
        flags = {f: "script" for f in proc.flags()}
        for profile in profiles:
            args = pipe.ext_args(name, profile) or ""
            flags.update({f: f"ext.args ({profile or 'default'} config)" for f in FLAG_RE.findall(args)})
        options = _click_options(cmd)
        shown = command if cmd is console_script(root, command)[0] else f"{command} {subcommand}"
        for flag, where in sorted(flags.items()):
            if flag not in options:
                problems.append(f"{proc.path}: {name} passes {flag} ({where}) but {shown} has no such option")
    return problems


def check_params(root: Path) -> list[str]:
    """params.* used anywhere are defined in nextflow.config and in nextflow_schema.json, and back."""
    pipe, problems = Pipeline(Path(root)), []
    defined = set(pipe.params())
    schema = json.loads((pipe.root / "nextflow_schema.json").read_text())
    documented = {}
    for group in schema.get("$defs", {}).values():
        documented.update(group.get("properties", {}))
    documented.update(schema.get("properties", {}))
    used: dict[str, str] = {}
    for path in pipe.nf_files() + pipe.config_files():
        for m in PARAM_RE.finditer(path.read_text()):
            used.setdefault(m.group(1), str(path))
    for config_file in pipe.config_files()[1:]:
        for name in parse_config_file(config_file).get("params", {}):
            used.setdefault(name, str(config_file))
    for name, where in sorted(used.items()):
        if name not in defined:
            problems.append(f"{where}: params.{name} is not defined in nextflow.config")
    for name in sorted(defined - set(documented)):
        problems.append(f"nextflow.config: params.{name} is not documented in nextflow_schema.json")
    for name in sorted(set(documented) - defined):
        problems.append(f"nextflow_schema.json: '{name}' is not a param of nextflow.config")
    for name in sorted(defined - set(used) - {"input", "outdir"}):
        problems.append(f"nextflow.config: params.{name} is never used")
    for name, spec in sorted(documented.items()):
        if not spec.get("description") or not spec.get("type"):
            problems.append(f"nextflow_schema.json: '{name}' needs a type and a description")
        default = pipe.params().get(name)
        if "default" in spec and spec["default"] != default:
            problems.append(f"nextflow_schema.json: default of '{name}' is {spec['default']!r}, "
                            f"nextflow.config says {default!r}")
    return problems


# ----------------------------------------------------------------------------- samplesheet
def validate_row(row: dict, schema: dict) -> list[str]:
    """Problems of one samplesheet row under the subset of JSON Schema the schema uses."""
    present = {k: v for k, v in row.items() if v not in (None, "")}
    problems = [f"missing required '{k}'" for k in schema.get("required", []) if k not in present]
    if "anyOf" in schema and not any(all(k in present for k in alt.get("required", []))
                                     for alt in schema["anyOf"]):
        problems.append("needs one of: " + " or ".join("+".join(a["required"]) for a in schema["anyOf"]))
    props = schema.get("properties", {})
    for key, value in present.items():
        spec = props.get(key)
        if spec is None:
            problems.append(f"column '{key}' is not in the schema")
        elif "pattern" in spec and not re.search(spec["pattern"], value):
            problems.append(f"'{key}' = {value!r} does not match {spec['pattern']}")
        elif "enum" in spec and value not in spec["enum"]:
            problems.append(f"'{key}' = {value!r} is not one of {spec['enum']}")
    return problems


def samplesheet_columns(root: Path) -> list[str]:
    """The row layout main.nf documents after ``samples`` in EPITOOLS' ``take:`` (meta first)."""
    text = (Path(root) / "main.nf").read_text()
    m = re.search(r"^\s*samples\s*//\s*\[(.*?)\]", text, re.M | re.S)
    if not m:
        return []
    return [c.strip() for c in re.sub(r"\n\s*//", " ", m.group(1)).split(",") if c.strip()]


def check_samplesheet(root: Path) -> list[str]:
    """assets/schema_input.json, every assets/samplesheet*.csv and main.nf's row layout agree.

    nf-schema hands main.nf each row as a list in schema order (meta fields first, as one map),
    which main.nf indexes by position: the layout it documents must be the schema's.
    """
    root = Path(root)
    schema = json.loads((root / "assets" / "schema_input.json").read_text())
    items = schema["items"]
    problems = []
    columns = [k for k, spec in items["properties"].items() if "meta" not in spec]
    layout = samplesheet_columns(root)
    if layout != ["meta"] + columns:
        problems.append(f"{root / 'main.nf'}: EPITOOLS takes samples as {layout}, but the schema's rows are "
                        f"{['meta'] + columns}")
    for sheet in sorted((root / "assets").glob("samplesheet*.csv")):
        problems += _check_sheet(sheet, schema)
    return problems


def _check_sheet(sheet: Path, schema: dict) -> list[str]:
    items = schema["items"]
    with open(sheet, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = list(reader)
    problems = []
    if header != list(items["properties"]):
        problems.append(f"{sheet}: columns {header} differ from the schema's {list(items['properties'])} "
                        "(main.nf reads samplesheet rows in schema order)")
    if not rows:
        problems.append(f"{sheet}: no rows")
    seen = set()
    for line, row in enumerate(rows, start=2):
        problems += [f"{sheet}:{line}: {p}" for p in validate_row(row, items)]
        for key in schema.get("uniqueEntries", []):
            if (key, row.get(key)) in seen:
                problems.append(f"{sheet}:{line}: duplicate {key} {row.get(key)!r}")
            seen.add((key, row.get(key)))
    return problems


# store need of a pair model: registry column -> the epi-encode pairs flag EPI_ENCODE passes from meta
STORE_NEED_FLAGS = {"encoding": "--encoding", "augment_copies": "--augment-copies", "max_shift": "--max-shift"}


def check_store_needs(root: Path) -> list[str]:
    """Each pair model trains on the store of its need, all of it from the registry dump.

    EPI_ENCODE passes every need column (encoding, augment_copies, max_shift) from ``meta``
    (no config's ext.args sets them, which would override meta); main.nf's ``modelNeeds`` reads
    those columns and the paper split's from ``entry`` and they are columns of
    ``epi-train --list-models``; the schema's ``split`` values are epi-train's ``--split``
    choices plus ``paper``; ``paper_data`` is a boolean parameter.
    """
    from epitools.cli.train import main as train_main
    from epitools.models.registry import MODEL_TABLE_COLUMNS

    root = Path(root)
    pipe, problems = Pipeline(root), []
    encode = pipe.processes().get("EPI_ENCODE")
    if encode is None:
        return [f"{root}: no EPI_ENCODE process"]
    script = command_text(encode.script)
    for column, flag in STORE_NEED_FLAGS.items():
        if not re.search(rf"{re.escape(flag)}\s+\$\{{meta\.{column}\}}", script):
            problems.append(f"{encode.path}: EPI_ENCODE does not pass {flag} ${{meta.{column}}}")
        for profile in (None, "test"):
            if flag in FLAG_RE.findall(pipe.ext_args("EPI_ENCODE", profile) or ""):
                problems.append(f"ext.args of EPI_ENCODE ({profile or 'default'} config) sets {flag}, "
                                "which overrides each model's store need")
    main = (root / "main.nf").read_text()
    m = re.search(r"^def modelNeeds\(.*?^\}", main, re.M | re.S)
    if not m:
        problems.append(f"{root / 'main.nf'}: no modelNeeds(models, registry) function")
    else:
        read = set(re.findall(r"\bentry\.(\w+)", m.group(0)))
        for column in sorted(read - set(MODEL_TABLE_COLUMNS)):
            problems.append(f"{root / 'main.nf'}: modelNeeds reads entry.{column}, not a column of "
                            f"epi-train --list-models ({', '.join(MODEL_TABLE_COLUMNS)})")
        for column in sorted((set(STORE_NEED_FLAGS) | {"paper_split", "paper_folds"}) - read):
            problems.append(f"{root / 'main.nf'}: modelNeeds does not read entry.{column} from the registry dump")
    schema = json.loads((root / "nextflow_schema.json").read_text())
    props = {k: v for group in schema.get("$defs", {}).values() for k, v in group.get("properties", {}).items()}
    choices = set(next(p for p in train_main.params if p.name == "split").type.choices)
    for value in props.get("split", {}).get("enum", []):
        if value != "paper" and value not in choices:
            problems.append(f"nextflow_schema.json: split '{value}' is not an epi-train --split choice "
                            f"({', '.join(sorted(choices))})")
    if "paper" not in props.get("split", {}).get("enum", []):
        problems.append("nextflow_schema.json: split has no 'paper' value (each model's paper split)")
    if props.get("paper_data", {}).get("type") != "boolean":
        problems.append("nextflow_schema.json: paper_data is not a boolean parameter")
    return problems


def check_all(root: Path) -> list[str]:
    """Every rule."""
    root = Path(root)
    return (check_parse(root) + check_processes(root) + check_includes(root) + check_wiring(root)
            + check_cli_flags(root) + check_params(root) + check_samplesheet(root) + check_store_needs(root))


# ----------------------------------------------------------------------------- rendering
_DEF_RE = re.compile(r"^\s*def\s+(\w+)\s*=\s*([\w.]+)\s*\?\s*\"(.*)\"\s*:\s*''\s*$")
# def x_args = (files instanceof List ? files : [files]).collect { "--flag ${it}" }.join(' ')
_EACH_RE = re.compile(r"^\s*def\s+(\w+)\s*=\s*\((\w+)\s+instanceof\s+List\s*\?\s*\2\s*:\s*\[\2\]\)"
                      r"\.collect\s*\{\s*\"(.*)\"\s*\}\.join\(' '\)\s*$")
_VAR_RE = re.compile(r"\$\{\s*([A-Za-z_][\w.]*)\s*\}|(?<!\\)\$([A-Za-z_]\w*)")


def _filler(proc: Process, values: dict):
    """A function filling ``${name}`` / ``$name`` placeholders from ``values`` (KeyError if unknown)."""
    def fill(s: str) -> str:
        def one(m):
            key = m.group(1) or m.group(2)
            if key not in values:
                raise KeyError(f"{proc.name}: no value for ${{{key}}}")
            value = values[key]
            # A path input holding several files renders as their names, blank-separated.
            return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        return _VAR_RE.sub(one, s)
    return fill


def render_command(proc: Process, binding: dict) -> list[str]:
    """The process's command line as argv, with Groovy placeholders taken from ``binding``.

    ``binding`` maps names used in the script (``args``, ``prefix``, input names,
    ``meta.id``, ``params.seed``, ...) to values; an input bound to None or "" is absent
    (its ``def x_arg = x ? "--flag ${x}" : ''`` becomes empty); one bound to a list holds
    several files (``def xs = (x instanceof List ? x : [x]).collect { "--flag ${it}" }.join(' ')``
    repeats the flag per file). Unknown placeholders raise
    KeyError, so a new expression in a script is noticed by the test.
    """
    values = dict(binding)
    text = command_text(proc.script)
    fill = _filler(proc, values)

    shell_lines = []
    for line in text.splitlines():
        m = _DEF_RE.match(line)
        each = _EACH_RE.match(line)
        if m:
            values[m.group(1)] = fill(m.group(3)) if values.get(m.group(2)) not in (None, "", [], False) else ""
        elif each:
            items = values.get(each.group(2))
            items = [] if items in (None, "") else items if isinstance(items, (list, tuple)) else [items]
            values[each.group(1)] = " ".join(_filler(proc, {**values, "it": item})(each.group(3)) for item in items)
        elif '"""' in line or re.match(r"^\s*(def\s+\w+\s*=|prefix\s*=)", line):
            continue
        elif line.strip():
            shell_lines.append(line)
    shell = "\n".join(shell_lines).replace("\\\\\n", " ").replace("\\$", "$")
    return shlex.split(fill(shell))


def split_stdout(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv`` without a trailing ``> FILE`` redirection, and FILE (None when there is none)."""
    if len(argv) >= 3 and argv[-2] == ">":
        return argv[:-2], argv[-1]
    if any(a.startswith(">") for a in argv):
        raise ValueError(f"only a trailing '> FILE' redirection is understood: {' '.join(argv)}")
    return argv, None


_OUTPUT_PATH_RE = re.compile(r"\bpath\s*\(?\s*\"([^\"]+)\"")


def _brace_expand(pattern: str) -> list[str]:
    """``a.{x,y}`` -> ``[a.x, a.y]`` (nested groups expanded left to right)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [e for alt in m.group(1).split(",")
            for e in _brace_expand(pattern[:m.start()] + alt + pattern[m.end():])]


def output_patterns(proc: Process, binding: dict) -> list[tuple[str, bool]]:
    """``(glob, optional)`` of every ``path("...")`` output but versions.yml, placeholders filled.

    A line declaring several paths (``tuple val(meta), path(a), path(b)``) yields each of them.
    """
    fill = _filler(proc, dict(binding))
    found = []
    for line in proc.sections.get("output", "").splitlines():
        optional = re.search(r"\boptional\s*:\s*true\b", line) is not None
        for m in _OUTPUT_PATH_RE.finditer(line):
            if m.group(1) != "versions.yml":
                found.append((fill(m.group(1)), optional))
    return found


def missing_outputs(proc: Process, binding: dict, workdir: Path) -> list[str]:
    """Required outputs of ``proc`` with no matching file in ``workdir`` (Nextflow would fail the task)."""
    workdir = Path(workdir)
    return [pattern for pattern, optional in output_patterns(proc, binding) if not optional
            and not any(any(workdir.glob(p)) if any(c in p for c in "*?[") else (workdir / p).exists()
                        for p in _brace_expand(pattern))]
