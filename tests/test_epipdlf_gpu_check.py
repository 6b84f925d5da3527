"""bench/gpu_check.py: its CUDA/AMP code paths run on the CPU (bfloat16 autocast), and without
CUDA the script stops with a clear message."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_without_cuda_the_check_says_so_and_exits_2():
    done = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no CUDA device" in done.stderr


@pytest.mark.parametrize("name, hparams", [
    ("epipdlf", dict(k=4, embedding_dim=8, filters=8, kernel=10, pool=5, gru_hidden=4, heads=2, branch_dim=6,
                     hidden=5, n_signal_tracks=2, signal_dim=8, signal_heads=2)),
    ("epipam", dict(filters=8, kernels=(5, 3, 3), pools=(4, 4, 2), hidden=16)),
])
def test_measurement_runs_with_bf16_autocast_on_cpu(name, hparams):
    gpu_check = _module()
    device = torch.device("cpu")
    with gpu_check.amp_context(device, True):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")
    for amp in (True, False):
        got = gpu_check.measure_model(name, device, amp, steps=1, warmup=0, enhancer_length=400,
                                      promoter_length=300, batch_size=4, hparams=hparams)
        assert got["batch_size"] == 4 and math.isfinite(got["loss"])
        assert got["train_pairs_per_s"] > 0 and got["predict_pairs_per_s"] > 0
        assert got["peak_memory_mb"] is None and got["gpu_utilisation"] is None
