"""The state of a run between epochs: early stopping, history and every random state.

:class:`TrainingState` is exactly what ``last.pt`` holds beside the weights (its ``resume``
entry): the config, the last finished epoch, the optimizer, the best validation score and
epoch, the epochs without gain, the elapsed time, the history rows and the random states of
python, numpy, torch (CPU and CUDA) and the batch-order generator. Restoring it lets a killed
run continue exactly as if it had never stopped.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from epitools.errors import UsageError

# Config fields a resumed run must share with the run that wrote last.pt.
SAME_RUN_FIELDS = ("data", "model", "split", "folds", "fold", "seed", "train_cells", "test_cells", "hparams",
                   "negatives_per_positive")


def json_safe(obj):
    """``obj`` with numpy scalars as python numbers, NaN as None, tuples as lists, keys as str."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(float(obj)) else float(obj)
    return obj


# -- random state ----------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(loader_gen: torch.Generator) -> dict:
    """Every random state a resumed run needs, as ``weights_only``-loadable values."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "python": random.getstate(),
        "loader": loader_gen.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, loader_gen: torch.Generator) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(state["python"])
    loader_gen.set_state(state["loader"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- early stopping --------------------------------------------------------------------------
@dataclass
class TrainingState:
    """Early stopping and history of a run after its last finished ``epoch``.

    ``best_score`` is maximised (validation AUPRC for pairs, minus MSE for genes);
    ``patience`` epochs without a better score stop the run.
    """

    patience: int
    epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    elapsed: float = 0.0
    history: list = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return self.bad_epochs >= self.patience

    def record(self, epoch: int, score: float, row: dict) -> bool:
        """Count a finished epoch (its history ``row`` and validation ``score``).

        Returns True when the epoch is the best so far. The first epoch always counts, so an
        undefined validation score (NaN AUPRC) still yields a model.
        """
        self.epoch = epoch
        self.history.append(row)
        improved = score > self.best_score or self.best_epoch == 0
        if improved:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
        else:
            self.bad_epochs += 1
        return improved

    def resume_record(self, config_record: dict, optimizer: torch.optim.Optimizer,
                      loader_gen: torch.Generator) -> dict:
        """The ``resume`` entry of ``last.pt``."""
        return {"config": config_record, "epoch": self.epoch, "optimizer": optimizer.state_dict(),
                "best_score": self.best_score, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "elapsed": self.elapsed, "history": self.history, "rng": rng_state(loader_gen)}

    @classmethod
    def restore(cls, record: dict, patience: int, optimizer: torch.optim.Optimizer,
                loader_gen: torch.Generator) -> TrainingState:
        """Load a :meth:`resume_record` back: the optimizer and every random state are set."""
        optimizer.load_state_dict(record["optimizer"])
        set_rng_state(record["rng"], loader_gen)
        return cls(patience=patience, epoch=record["epoch"], best_score=record["best_score"],
                   best_epoch=record["best_epoch"], bad_epochs=record["bad_epochs"],
                   elapsed=record["elapsed"], history=list(record["history"]))


def check_same_run(saved_config: dict, config) -> None:
    """``UsageError`` when ``config`` differs from the one in ``last.pt`` in a field that defines the run."""
    diff = [k for k in SAME_RUN_FIELDS if saved_config.get(k) != json_safe(getattr(config, k))]
    if diff:
        raise UsageError(f"--resume: the run in {config.out} was started with different "
                         f"{', '.join(diff)}; use another --out or drop --resume")
