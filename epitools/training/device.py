"""Where a run computes: the torch device chosen by ``--device`` and its autocast context."""

from __future__ import annotations

import torch

from epitools.errors import UsageError


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise UsageError(f"--device: unknown device '{device}'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for but no CUDA device is available")
    return dev


def autocast(device: torch.device, enabled: bool = True):
    """Mixed precision on CUDA (bfloat16 where supported, else float16); a no-op elsewhere."""
    if device.type == "cuda" and enabled:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", enabled=False)
