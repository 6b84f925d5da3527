"""GPU readiness check: every pair model's throughput at the papers' windows, with and without AMP.

On a CUDA machine, for each pair model at 3000 / 2000 bp windows and its paper batch size:
training pairs/s (forward + backward + Adam step) and prediction pairs/s, each with mixed
precision (``epitools.training.device.autocast``: bfloat16 where supported) and in float32,
the GPU utilisation during training (NVML through ``torch.cuda.utilization``; null without it)
and the peak memory. Then the paper-window accuracy run of ``bench/model_accuracy.py`` on a
small simulation within ``--accuracy-minutes``. Prints one JSON line.

    python bench/gpu_check.py [--models epipam,epipdlf] [--steps 5] [--accuracy-minutes 4]

Without CUDA it exits with status 2 and says so. ``--allow-cpu`` runs the same code on the CPU
with bfloat16 CPU autocast standing in for AMP (tests use it on small windows).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from epitools.models.registry import available_models, build_model, get_model_class
from epitools.training.device import autocast

HERE = Path(__file__).resolve().parent


def amp_context(device: torch.device, amp: bool):
    """The run's autocast on CUDA; bfloat16 CPU autocast with ``amp`` on the CPU (its stand-in)."""
    if device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp)
    return autocast(device, amp)


def synthetic_batch(model, n: int, device: torch.device, seed: int = 0) -> dict:
    """Random inputs of ``model``'s encoding and windows: (N, 4, L) one-hot or (N, L-k+1) ids."""
    gen = torch.Generator().manual_seed(seed)
    batch = {"label": (torch.arange(n) % 2).float()}
    for part, length in (("enhancer", model.enhancer_length), ("promoter", model.promoter_length)):
        if model.encoding == "kmer":
            k = model.hparams["k"]
            batch[part] = torch.randint(1, 4**k + 1, (n, length - k + 1), generator=gen)
        else:
            codes = torch.randint(0, 4, (n, length), generator=gen)
            batch[part] = torch.nn.functional.one_hot(codes, 4).float().transpose(1, 2)
        tracks = model.hparams.get("n_signal_tracks", 0)
        if tracks:
            batch[f"{part}_signal"] = torch.rand(n, 4, tracks, generator=gen)
    return {k: v.to(device) for k, v in batch.items()}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _utilisation(device):
    try:
        return int(torch.cuda.utilization(device))
    except Exception:  # NVML missing or not permitted: report null, never fail the check
        return None


def measure_model(name: str, device: torch.device, amp: bool, steps: int = 5, warmup: int = 1,
                  enhancer_length: int = 3000, promoter_length: int = 2000, batch_size: int | None = None,
                  hparams: dict | None = None) -> dict:
    """Training and prediction throughput of one model.

    Returns
    -------
    dict
        ``train_pairs_per_s``, ``predict_pairs_per_s``, ``peak_memory_mb`` (CUDA only),
        ``gpu_utilisation`` (% during training, CUDA with NVML only), ``batch_size``, ``loss``.
    """
    torch.manual_seed(0)
    model = build_model(name, enhancer_length=enhancer_length, promoter_length=promoter_length,
                        **(hparams or {})).to(device)
    n = batch_size or int(model.hparams.get("batch_size", 64))
    batch = synthetic_batch(model, n, device)
    extras = {k: v for k, v in batch.items() if k.endswith("_signal")}
    optimizer = model.configure_optimizer()
    # float16 needs loss scaling; bfloat16 and the CPU do not (the scaler is then a no-op)
    fp16 = device.type == "cuda" and amp and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    utilisation, loss = [], None
    for step in range(warmup + steps):
        if step == warmup:
            _sync(device)
            t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with amp_context(device, amp):
            out = model(batch["enhancer"], batch["promoter"], **extras)
            loss = model.loss(out, batch)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda" and step >= warmup:
            utilisation.append(_utilisation(device))
    _sync(device)
    train_s = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        for step in range(warmup + steps):
            if step == warmup:
                _sync(device)
                t0 = time.perf_counter()
            with amp_context(device, amp):
                model(batch["enhancer"], batch["promoter"], **extras)
        _sync(device)
    predict_s = time.perf_counter() - t0
    known = [u for u in utilisation if u is not None]
    return {"batch_size": n, "loss": round(float(loss.detach().float()), 4),
            "train_pairs_per_s": round(n * steps / train_s, 1),
            "predict_pairs_per_s": round(n * steps / predict_s, 1),
            "peak_memory_mb": (round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                               if device.type == "cuda" else None),
            "gpu_utilisation": round(sum(known) / len(known), 1) if known else None}


def accuracy_run(models: list[str], minutes: float, device: str) -> dict:
    """``bench/model_accuracy.py`` at the paper windows on the small simulation, stopped after
    ``minutes`` (its JSON line, or the reason there is none)."""
    cmd = [sys.executable, str(HERE / "model_accuracy.py"), "--models", ",".join(models), "--preset", "small",
           "--epochs", "30", "--patience", "10", "--device", device]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=minutes * 60)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {minutes} min", "command": " ".join(cmd)}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": done.stderr.strip().splitlines()[-1:] or f"exit {done.returncode}",
                "command": " ".join(cmd)}
    return {**json.loads(lines[-1]), "command": " ".join(cmd)}


def pair_models() -> list[str]:
    return [m for m in available_models() if getattr(get_model_class(m), "task", "pairs") == "pairs"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated (default: every pair model)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--enhancer-length", type=int, default=3000)
    parser.add_argument("--promoter-length", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, help="default: each model's paper value")
    parser.add_argument("--accuracy-minutes", type=float, default=4.0, help="0 skips the accuracy run")
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU (bf16 autocast as AMP)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print("gpu_check: no CUDA device is available; this check measures GPU throughput and needs "
              "one (use --allow-cpu to exercise the code on the CPU)", file=sys.stderr)
        return 2
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    models = args.models.split(",") if args.models else pair_models()
    figures = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "windows": [args.enhancer_length, args.promoter_length], "models": {}}
    for name in models:
        figures["models"][name] = {
            ("amp" if amp else "fp32"): measure_model(name, device, amp, args.steps,
                                                      enhancer_length=args.enhancer_length,
                                                      promoter_length=args.promoter_length,
                                                      batch_size=args.batch_size)
            for amp in (True, False)}
    if args.accuracy_minutes > 0:
        figures["accuracy"] = accuracy_run(models, args.accuracy_minutes, device.type)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
