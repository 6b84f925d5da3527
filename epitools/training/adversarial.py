"""PGD adversarial training on token embeddings (EPIPDLF, EPIPAM*).

Projected gradient descent (Madry et al. 2018) in embedding space, starting from zero, K steps.
``norm="linf"`` (default) is EPIPDLF's Eq. 11: ``δ ← clip_[−ε, ε](δ + α · sign(∇_δ L))``, each
coordinate of every token vector kept within ε (the L∞ ball). ``norm="l2"`` is the earlier
variant kept as an option: a step of α along the per-sample L2-normalised gradient, then
projection onto the L2 ball of radius ε (per sample and element, over all its token vectors).

ε, α and K are our choice (the paper states the update, not the values): ε = 0.01 per
coordinate is ~10 % of a token vector's norm for a 100-d embedding with unit-scale rows
(coordinates ~0.1), α = 0.004 and K = 3 reach the boundary in the last step. They are the
models' ``adv_epsilon`` / ``adv_alpha`` / ``adv_steps`` / ``adv_norm`` hparams. Models opt in
with ``supports_adversarial = True``, an ``embed_tokens(ids, which)`` method and
``forward(..., enhancer_delta=, promoter_delta=)``.
"""

from __future__ import annotations

import torch

from epitools.errors import UsageError

# Batch keys, besides the sequences, that models take as forward extras.
EXTRA_KEYS = ("enhancer_signal", "promoter_signal")


def project_l2_ball(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Scale each sample of ``delta`` (N, ...) into the L2 ball of radius ``epsilon``."""
    norms = delta.flatten(1).norm(dim=1)
    scale = torch.clamp(epsilon / (norms + 1e-12), max=1.0)
    return delta * scale.view(-1, *([1] * (delta.ndim - 1)))


def project_linf_ball(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Clip every coordinate of ``delta`` (N, ...) to [−ε, ε]: the L∞ ball of radius ``epsilon``."""
    return delta.clamp(-epsilon, epsilon)


def _unit(gradient: torch.Tensor) -> torch.Tensor:
    norms = gradient.flatten(1).norm(dim=1)
    return gradient / (norms + 1e-12).view(-1, *([1] * (gradient.ndim - 1)))


NORMS = ("linf", "l2")


def _step(delta: torch.Tensor, gradient: torch.Tensor, epsilon: float, alpha: float, norm: str):
    if norm == "linf":
        return project_linf_ball(delta + alpha * gradient.sign(), epsilon)
    return project_l2_ball(delta + alpha * _unit(gradient), epsilon)


def _check(model, epsilon: float, alpha: float, steps: int, norm: str = "linf") -> None:
    if not getattr(model, "supports_adversarial", False):
        raise UsageError(f"model '{getattr(model, 'name', type(model).__name__)}' does not support "
                         "PGD adversarial training: it has no token embeddings to perturb")
    if epsilon < 0 or alpha <= 0 or steps < 1:
        raise UsageError(f"PGD needs epsilon >= 0, alpha > 0 and steps >= 1; got epsilon={epsilon}, "
                         f"alpha={alpha}, steps={steps}")
    if norm not in NORMS:
        raise UsageError(f"PGD norm must be one of {', '.join(NORMS)}; got '{norm}'")


def pgd_perturbation(model, batch: dict, epsilon: float, alpha: float, steps: int, loss_fn=None,
                     norm: str | None = None):
    """Adversarial perturbations of the enhancer and promoter token embeddings.

    Parameters
    ----------
    model : PairModel
        A model with ``supports_adversarial``; its mode (train/eval) is left as is.
    batch : dict
        Collated Dataset batch: ``enhancer`` (N, Te), ``promoter`` (N, Tp) k-mer ids, ``label``
        (N,), optional signal extras.
    epsilon : float
        Radius of the ball: per coordinate (``linf``) or per sample and element (``l2``).
    alpha : float
        Step size.
    steps : int
        Number of PGD steps K.
    loss_fn : callable, optional
        ``loss_fn(out, batch) -> scalar`` to ascend; ``model.loss`` by default.
    norm : {"linf", "l2"}, optional
        The ball and step (see the module docstring); the model's ``adv_norm`` hparam, else
        ``linf`` (the paper's Eq. 11).

    Returns
    -------
    enhancer_delta, promoter_delta : torch.Tensor
        (N, Te, D) and (N, Tp, D), detached, inside the ball of radius ``epsilon``.
    """
    norm = getattr(model, "hparams", {}).get("adv_norm", "linf") if norm is None else norm
    _check(model, epsilon, alpha, steps, norm)
    loss_fn = model.loss if loss_fn is None else loss_fn
    enhancer, promoter = batch["enhancer"], batch["promoter"]
    extras = {key: batch[key] for key in EXTRA_KEYS if key in batch}
    with torch.no_grad():
        shape_e = model.embed_tokens(enhancer, "enhancer").shape
        shape_p = model.embed_tokens(promoter, "promoter").shape
    param = next(model.parameters())
    deltas = [torch.zeros(shape_e, dtype=param.dtype, device=param.device),
              torch.zeros(shape_p, dtype=param.dtype, device=param.device)]
    for _ in range(steps):
        for delta in deltas:
            delta.requires_grad_(True)
        out = model(enhancer, promoter, enhancer_delta=deltas[0], promoter_delta=deltas[1], **extras)
        # Gradients for the perturbations only; the parameters' .grad are left untouched.
        gradients = torch.autograd.grad(loss_fn(out, batch), deltas)
        deltas = [_step(delta.detach(), gradient, epsilon, alpha, norm)
                  for delta, gradient in zip(deltas, gradients)]
    return deltas[0], deltas[1]


def _resolve(model, epsilon, alpha, steps):
    hp = getattr(model, "hparams", {})
    return (hp.get("adv_epsilon", 0.01) if epsilon is None else float(epsilon),
            hp.get("adv_alpha", 0.004) if alpha is None else float(alpha),
            hp.get("adv_steps", 3) if steps is None else int(steps))


def pgd_adversarial_loss(model, batch: dict, epsilon: float | None = None, alpha: float | None = None,
                         steps: int | None = None, loss_fn=None, norm: str | None = None) -> torch.Tensor:
    """The loss on PGD-perturbed token embeddings, with a graph to the parameters.

    Add it to the clean loss before ``backward()`` (adversarial training). ``epsilon``,
    ``alpha`` and ``steps`` default to the model's ``adv_epsilon``, ``adv_alpha`` and
    ``adv_steps`` hparams, ``norm`` to ``adv_norm`` (``linf``); ``loss_fn(out, batch)`` defaults to
    ``model.loss``.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    epsilon, alpha, steps = _resolve(model, epsilon, alpha, steps)
    loss_fn = model.loss if loss_fn is None else loss_fn
    enhancer_delta, promoter_delta = pgd_perturbation(model, batch, epsilon, alpha, steps, loss_fn, norm)
    extras = {key: batch[key] for key in EXTRA_KEYS if key in batch}
    out = model(batch["enhancer"], batch["promoter"], enhancer_delta=enhancer_delta,
                promoter_delta=promoter_delta, **extras)
    return loss_fn(out, batch)


class PGDAdversary:
    """PGD adversarial training for the loop: clean loss + weight · adversarial loss.

    Parameters
    ----------
    model : PairModel
        Must have ``supports_adversarial``.
    epsilon, alpha, steps, norm : optional
        PGD radius, step, step count and ball; the model's ``adv_*`` hparams by default.
    weight : float
        Weight of the adversarial term.
    """

    def __init__(self, model, epsilon: float | None = None, alpha: float | None = None,
                 steps: int | None = None, weight: float = 1.0, norm: str | None = None):
        self.epsilon, self.alpha, self.steps = _resolve(model, epsilon, alpha, steps)
        self.norm = getattr(model, "hparams", {}).get("adv_norm", "linf") if norm is None else norm
        _check(model, self.epsilon, self.alpha, self.steps, self.norm)
        self.weight = float(weight)

    def loss(self, model, batch: dict, loss_fn=None) -> torch.Tensor:
        """Scalar training loss for ``batch``; ``loss_fn(out, batch)`` defaults to ``model.loss``."""
        loss_fn = model.loss if loss_fn is None else loss_fn
        extras = {key: batch[key] for key in EXTRA_KEYS if key in batch}
        clean = loss_fn(model(batch["enhancer"], batch["promoter"], **extras), batch)
        adversarial = pgd_adversarial_loss(model, batch, self.epsilon, self.alpha, self.steps, loss_fn,
                                           self.norm)
        return clean + self.weight * adversarial


ADVERSARIES = {"pgd": PGDAdversary}


def make_adversary(kind: str, model, **hparams):
    """The adversarial trainer ``kind`` ("pgd") for ``model``; a ``UsageError`` for unknown kinds
    or models without token embeddings."""
    if kind not in ADVERSARIES:
        raise UsageError(f"unknown adversarial training '{kind}'; known: {', '.join(sorted(ADVERSARIES))}")
    try:
        return ADVERSARIES[kind](model, **hparams)
    except TypeError as exc:
        raise UsageError(f"bad options for {kind} adversarial training: {exc}") from exc
