"""Shared fixtures: the real data in ../shared/data and simulated data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Indexes and downloads of the tests go to a temporary cache, not the user's."""
    import os

    if "EPITOOLS_CACHE" in os.environ:
        yield
        return
    os.environ["EPITOOLS_CACHE"] = str(tmp_path_factory.mktemp("epitools-cache"))
    yield
    del os.environ["EPITOOLS_CACHE"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests using it skip in a user's clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA} "
                    "(only present on the project's development and CI machines)")
    return SHARED_DATA


# --------------------------------------------------------------------------- simulated data
SIMULATION_SEED = 0


@pytest.fixture(scope="session")
def simulated(tmp_path_factory) -> Path:
    """A tiny simulated data set (``epi-simulate --preset tiny --seed 0``), built once per session.

    4 chromosomes chr1..chr4 of 250 kb; files as documented in
    :mod:`epitools.data.simulate` (genome.fa, pairs.tsv, genes.tsv, elements.bed,
    hic.cool, hic.mcool, dnase/h3k27ac .bedGraph/.bw, truth.json, ...).
    """
    from epitools.data.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("simulated") / "tiny"
    simulate(out, seed=SIMULATION_SEED, config=SimulationConfig.tiny())
    return out


@pytest.fixture(scope="session")
def simulated_small(tmp_path_factory) -> Path:
    """A small simulated data set for model-training tests (``--preset small``, ~150 positives)."""
    from epitools.data.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("simulated") / "small"
    simulate(out, seed=SIMULATION_SEED, config=SimulationConfig.small())
    return out


@pytest.fixture(scope="module")
def single_torch_thread():
    """One intra-op torch thread for a module of tiny-tensor tests.

    OpenMP threads spin-wait between small operations; on a loaded 2-core machine two threads
    cost seconds per step where one costs milliseconds.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
