"""PGD as EPIPDLF's Eq. 11: sign steps clipped to the L∞ ball of the token embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epitools.errors import UsageError
from epitools.models import build_model
from epitools.training.adversarial import (PGDAdversary, pgd_adversarial_loss, pgd_perturbation,
                                           project_linf_ball)

SMALL = {
    "epipdlf": dict(enhancer_length=400, promoter_length=300, embedding_dim=8, filters=8, kernel=10,
                    pool=5, gru_hidden=4, heads=2, branch_dim=6, hidden=5),
    "epipam_kmer": dict(enhancer_length=1000, promoter_length=600, filters=8, kernels=(5, 3, 3),
                        pools=(4, 4, 2), hidden=16, embedding_dim=8),
}


def _model_and_batch(name, n=4, **extra):
    torch.manual_seed(0)
    model = build_model(name, **{**SMALL[name], **extra}).eval()
    rng = np.random.default_rng(0)
    tokens = lambda length: torch.from_numpy(rng.integers(1, 4**6 + 1, (n, length - 5)))  # noqa: E731
    batch = {"enhancer": tokens(model.enhancer_length), "promoter": tokens(model.promoter_length),
             "label": torch.tensor([0.0, 1.0] * (n // 2))}
    return model, batch


def test_linf_projection_clips_each_coordinate():
    delta = torch.tensor([[[0.3, -0.05, -2.0]]])
    torch.testing.assert_close(project_linf_ball(delta, 0.1), torch.tensor([[[0.1, -0.05, -0.1]]]))


@pytest.mark.parametrize("name", ["epipdlf", "epipam_kmer"])
def test_pgd_stays_inside_the_linf_ball_and_follows_the_gradient_sign(name):
    model, batch = _model_and_batch(name)
    assert model.hparams["adv_norm"] == "linf"
    epsilon, alpha = 0.01, 0.004
    e_delta, p_delta = pgd_perturbation(model, batch, epsilon=epsilon, alpha=alpha, steps=3)
    for delta in (e_delta, p_delta):
        assert float(delta.abs().max()) <= epsilon + 1e-7
        # three sign steps of 0.004 reach the clip at 0.01 wherever the gradient sign held
        assert float(delta.abs().max()) == pytest.approx(epsilon)
        # every coordinate is a sum of ±α steps, clipped: 0, α, 2α or ε
        values = delta.abs().flatten().numpy()
        allowed = np.array([0.0, alpha, 2 * alpha, epsilon])
        assert np.isclose(values[:, None], allowed[None, :], atol=1e-6).any(axis=1).all()
    # one step is exactly α · sign(∇): compare with the gradient at δ = 0
    one_e, _ = pgd_perturbation(model, batch, epsilon=epsilon, alpha=alpha, steps=1)
    zero_e = torch.zeros_like(one_e, requires_grad=True)
    zero_p = torch.zeros_like(p_delta, requires_grad=True)
    loss = model.loss(model(batch["enhancer"], batch["promoter"], enhancer_delta=zero_e,
                            promoter_delta=zero_p), batch)
    grad_e, = torch.autograd.grad(loss, [zero_e])
    torch.testing.assert_close(one_e, alpha * grad_e.sign())
    assert all(p.grad is None for p in model.parameters())
    with torch.no_grad():
        clean = model.loss(model(batch["enhancer"], batch["promoter"]), batch)
    adversarial = pgd_adversarial_loss(model, batch, epsilon=epsilon, alpha=alpha, steps=3)
    assert float(adversarial.detach()) > float(clean)


def test_l2_stays_an_option_and_norm_is_checked():
    model, batch = _model_and_batch("epipdlf", adv_norm="l2", adv_epsilon=0.05, adv_alpha=0.02)
    adversary = PGDAdversary(model)
    assert adversary.norm == "l2" and adversary.epsilon == 0.05
    e_delta, _ = pgd_perturbation(model, batch, epsilon=0.05, alpha=0.02, steps=4)  # norm from hparams
    assert float(e_delta.flatten(1).norm(dim=1).max()) <= 0.05 * (1 + 1e-5)
    assert float(e_delta.abs().max()) < 0.05  # spread over coordinates, unlike the L∞ step
    with pytest.raises(UsageError, match="norm"):
        pgd_perturbation(model, batch, epsilon=0.05, alpha=0.02, steps=1, norm="l1")
    loss = adversary.loss(model.train(), batch)
    loss.backward()
    assert model.enhancer_tower.embedding.weight.grad is not None
