"""Training throughput: pairs/s of forward + backward + optimizer step per model.

Each registered pair model is built at its paper defaults (windows 3000/2000 bp unless
--enhancer-length/--promoter-length) and stepped on random input at its paper batch size, on
CUDA when there is one (with the same AMP as epi-train) and on CPU otherwise. Prints one
JSON line.

    python bench/train_throughput.py [--steps 3] [--models epipam,epipdlf] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from epitools.models.registry import available_models, get_model_class
from epitools.training.device import autocast as _autocast, resolve_device


def random_batch(model, batch_size: int, device) -> dict:
    """Random one-hot or k-mer inputs and labels shaped for ``model``."""
    g = torch.Generator().manual_seed(0)
    out = {"label": torch.randint(0, 2, (batch_size,), generator=g).float()}
    for part, length in (("enhancer", model.enhancer_length), ("promoter", model.promoter_length)):
        n = model.input_length(length)
        if model.encoding == "kmer":
            out[part] = torch.randint(1, 4 ** model.hparams["k"] + 1, (batch_size, n), generator=g)
        else:
            codes = torch.randint(0, 4, (batch_size, n), generator=g)
            out[part] = torch.nn.functional.one_hot(codes, 4).transpose(1, 2).float()
        out[f"{part}_element"] = torch.tensor([[n // 4, 3 * n // 4]]).repeat(batch_size, 1)
    return {k: v.to(device) for k, v in out.items()}


def step_rate(name: str, device, steps: int, warmup: int, lengths: dict, batch_size: int | None) -> dict:
    cls = get_model_class(name)
    model = cls(**lengths).to(device).train()
    bs = batch_size or int(model.hparams.get("batch_size", 64))
    batch = random_batch(model, bs, device)
    optimizer = model.configure_optimizer()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, True):
            loss = model.loss(model(batch["enhancer"], batch["promoter"]), batch)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / steps
    return {"batch_size": bs, "step_s": round(seconds, 4), "pairs_per_s": round(bs / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated (default: every pair model)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, help="override the paper batch size")
    parser.add_argument("--enhancer-length", type=int, default=3000)
    parser.add_argument("--promoter-length", type=int, default=2000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    names = args.models.split(",") if args.models else [
        n for n in available_models() if getattr(get_model_class(n), "task", "pairs") == "pairs"]
    lengths = {"enhancer_length": args.enhancer_length, "promoter_length": args.promoter_length}
    result = {"bench": "train_throughput", "device": str(device),
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "threads": torch.get_num_threads(), **lengths, "models": {}}
    for name in names:
        result["models"][name] = step_rate(name, device, args.steps, args.warmup, lengths, args.batch_size)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
