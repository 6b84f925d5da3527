"""The package's layers import downward only (README, Development: the diagram).

Each layer may import the layers below it; siblings in one layer do not import each other,
except where :data:`ALLOWED_SIDEWAYS` says (``fetch`` writes its files through ``io``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "epitools"

# top to bottom; a package's layer is its index
LAYERS = (
    ("cli",),
    ("interpret", "prioritize", "variants"),
    ("report",),
    ("training",),
    ("models",),
    ("data",),
    ("regions", "contacts"),
    ("io", "fetch"),
    ("errors", "progress", "__init__"),
)
ALLOWED_SIDEWAYS = {("fetch", "io")}
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _imports(path: Path):
    """(line, imported epitools module) for every import in ``path``, lazy ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "epitools":  # ``from epitools import __version__`` is the package root
                names = [f"epitools.{alias.name}" for alias in node.names if alias.name != "__version__"]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("epitools."):
                yield node.lineno, name


def _layer(module: str) -> str:
    return module.split(".")[1]


def layer_violations(package: Path = PACKAGE) -> list[str]:
    """Every import that goes up a layer or sideways within one."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        own = path.relative_to(package).parts[0].removesuffix(".py")
        if own not in LAYER_OF:
            problems.append(f"{path}: package '{own}' is in no layer of tests/test_layers.py")
            continue
        for line, module in _imports(path):
            target = _layer(module)
            if target == own:
                continue
            if target not in LAYER_OF:
                problems.append(f"{path}:{line}: imports {module}, which is in no layer")
            elif LAYER_OF[target] < LAYER_OF[own] or (
                    LAYER_OF[target] == LAYER_OF[own] and (own, target) not in ALLOWED_SIDEWAYS):
                problems.append(f"{path}:{line}: {own} imports {module} ({target} is not below {own})")
    return problems


def test_layers_import_downward_only():
    assert layer_violations() == []


def test_layer_check_catches_an_upward_import(tmp_path):
    pkg = tmp_path / "epitools"
    (pkg / "io").mkdir(parents=True)
    (pkg / "data").mkdir()
    (pkg / "io" / "bad.py").write_text("def f():\n    from epitools.data.windows import centered_starts\n")
    (pkg / "data" / "ok.py").write_text("from epitools.io.genome import Genome\n")
    problems = layer_violations(pkg)
    assert len(problems) == 1 and "io/bad.py:2" in problems[0]


@pytest.mark.parametrize("package", sorted(p.name for p in PACKAGE.iterdir() if p.is_dir()
                                           and not p.name.startswith("__")))
def test_every_subpackage_has_a_layer(package):
    assert package in LAYER_OF, f"add epitools/{package} to LAYERS in tests/test_layers.py and README"
