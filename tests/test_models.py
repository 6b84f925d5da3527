"""Pair-level EPI models (EPIPAM, EPIPAM*, EPIANN, EPIPDLF, SIMCNN) and PGD adversarial training."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from epitools.errors import InputError, UsageError
from epitools.models import build_model
from epitools.models.layers import (UnfoldConv1d, load_kmer_embedding, position_attention,
                                    topk_pool)
from epitools.models.registry import available_models, get_model_class
from epitools.training.adversarial import (make_adversary, pgd_adversarial_loss,
                                           pgd_perturbation, project_l2_ball)

PAIR_MODELS = ["epipam", "epipam_kmer", "epiann", "epipdlf", "simcnn"]
K = 6

# Small configurations used throughout; the parameter counts below are worked out by hand
# from these layer sizes.
SMALL = {
    "epipam": dict(enhancer_length=1000, promoter_length=600, filters=8, kernels=(5, 3, 3),
                   pools=(4, 4, 2), hidden=16),
    "epipam_kmer": dict(enhancer_length=1000, promoter_length=600, filters=8, kernels=(5, 3, 3),
                        pools=(4, 4, 2), hidden=16, embedding_dim=8),
    "epiann": dict(enhancer_length=600, promoter_length=400, filters=16, attention_dim=8,
                   coord_hidden=(16, 8)),
    "epipdlf": dict(enhancer_length=400, promoter_length=300, embedding_dim=8, filters=8, kernel=10,
                    pool=5, gru_hidden=4, heads=2, branch_dim=6, hidden=5),
    "simcnn": dict(enhancer_length=600, promoter_length=400, filters=8, dense=16),
}


def _epipam_count(in_channels: int, embedding: int = 0) -> int:
    # Positions after pools 4, 4, 2: enhancer 1000→250→62→31, promoter 600→150→37→18 (one-hot);
    # k-mer tokens 995→248→62→31 and 595→148→37→18.
    n, m = (250, 62, 31), (150, 37, 18)
    if embedding:
        n, m = (248, 62, 31), (148, 37, 18)
    topk = [round(0.01 * n[0] * m[0]), round(0.1 * n[1] * m[1]), n[2] * m[2]]
    convs = (in_channels * 5 * 8 + 8) + (8 * 3 * 8 + 8) + (8 * 3 * 8 + 8)
    main = 2 * 8 * (31 + 18) + (8 * 49 * 16 + 16) + (16 + 1)      # BN, FC, FC
    aux = 2 * sum(topk) + (sum(topk) * 16 + 16) + (16 + 1)
    return 2 * convs + main + aux + embedding


def _epiann_count() -> int:
    n, m = 20, 13          # ceil((600 - 14) / 30), ceil((400 - 14) / 30)
    conv = 4 * 15 * 16     # shared, no bias
    attention = 2 * (16 * 8 + 16 * 8 + 8)
    bilinear = 16 * 16 + 1
    head = (32 * 32 + 32) + (32 + 1)
    coord = lambda d: (d * 16 + 16) + (16 * 8 + 8) + (8 * 2 + 2)  # noqa: E731
    return conv + attention + bilinear + head + coord(m * 16) + coord(n * 16)


def _epipdlf_count(signal_tracks: int = 0) -> int:
    embedding = 4097 * 8
    conv = 8 * 10 * 8 + 8
    gru = 2 * 3 * (4 * 8 + 4 * 4 + 2 * 4)           # bidirectional, 3 gates, two biases
    attention = (3 * 8 * 8 + 3 * 8) + (8 * 8 + 8)   # in and out projections
    tower = embedding + conv + gru + attention + 2 * 8 + 2 * 8 + (8 * 6 + 6)  # + LN, BN, FC
    fused = 4 * 6
    signal = 0
    if signal_tracks:
        d = 4
        branch = (signal_tracks * d + d) + (d * d + d) + (3 * d * d + 3 * d) + (d * d + d) + 2 * d
        signal = 2 * branch
        fused += 2 * d
    head = 2 * fused + (fused * 5 + 5) + (5 + 1)
    return 2 * tower + signal + head


def _simcnn_count() -> int:
    positions = (600 - 39) // 20 + (400 - 39) // 20  # 28 + 18
    return 2 * (4 * 40 * 8 + 8) + 2 * 8 + (positions * 8 * 16 + 16) + 2 * 16 + (16 + 1)


def _kmer_ids(codes: np.ndarray, k: int = K) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(codes, k, axis=-1).astype(np.int64)
    return 1 + (windows * 4 ** np.arange(k - 1, -1, -1)).sum(-1)


def make_batch(model, n: int = 8, seed: int = 0, motif: bool = False) -> dict:
    """Random pairs for ``model``; with ``motif`` positives carry GGGGGGGG in the enhancer and
    CCCCCCCC in the promoter (a separable task)."""
    rng = np.random.default_rng(seed)
    le, lp = model.enhancer_length, model.promoter_length
    enhancer = rng.integers(0, 4, (n, le))
    promoter = rng.integers(0, 4, (n, lp))
    label = np.tile([0.0, 1.0], n // 2)
    if motif:
        for i in np.flatnonzero(label == 1):
            for start in range(40, le - 48, 150):
                enhancer[i, start:start + 8] = 2
            for start in range(40, lp - 48, 150):
                promoter[i, start:start + 8] = 1
    batch = {"label": torch.tensor(label, dtype=torch.float32),
             "enhancer_element": torch.tensor([[le // 4, 3 * le // 4]] * n),
             "promoter_element": torch.tensor([[lp // 4, 3 * lp // 4]] * n)}
    if model.encoding == "kmer":
        batch["enhancer"] = torch.from_numpy(_kmer_ids(enhancer))
        batch["promoter"] = torch.from_numpy(_kmer_ids(promoter))
    else:
        batch["enhancer"] = F.one_hot(torch.from_numpy(enhancer), 4).float().transpose(1, 2)
        batch["promoter"] = F.one_hot(torch.from_numpy(promoter), 4).float().transpose(1, 2)
    return batch


def small(name: str, **extra):
    torch.manual_seed(0)
    return build_model(name, **{**SMALL[name], **extra})


# -- registry and contract -------------------------------------------------------------------
def test_models_are_registered_with_the_contract_attributes():
    assert set(PAIR_MODELS) <= set(available_models())
    expected = {"epipam": "onehot", "epipam_kmer": "kmer", "epiann": "onehot", "epipdlf": "kmer",
                "simcnn": "onehot"}
    for name, encoding in expected.items():
        cls = get_model_class(name)
        assert cls.encoding == encoding and cls.task == "pairs"
        assert isinstance(cls.default_hparams, dict) and cls.default_hparams
        assert cls.supports_adversarial == (encoding == "kmer")


def test_paper_defaults():
    pam = get_model_class("epipam").default_hparams
    assert pam["filters"] == 64 and tuple(pam["kernels"]) == (25, 13, 7)
    assert tuple(pam["pools"]) == (10, 10, 5) and tuple(pam["topk_ratios"]) == (0.01, 0.1, 1.0)
    assert pam["alpha"] == 0.8 and pam["batch_size"] == 100 and pam["dropout"] == 0.2
    assert get_model_class("epiann").default_hparams["lr"] == 1e-3


@pytest.mark.parametrize("name,expected", [
    ("epipam", _epipam_count(4)),
    ("epipam_kmer", _epipam_count(8, embedding=4097 * 8)),
    ("epiann", _epiann_count()),
    ("epipdlf", _epipdlf_count()),
    ("simcnn", _simcnn_count()),
])
def test_parameter_count_matches_the_layer_formula(name, expected):
    model = small(name)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_epipdlf_signal_branch_parameter_count():
    model = small("epipdlf", n_signal_tracks=3, signal_dim=4, signal_heads=2)
    assert sum(p.numel() for p in model.parameters()) == _epipdlf_count(signal_tracks=3)


def test_full_size_epipam_shapes():
    model = build_model("epipam")
    assert model.block_lengths == [(300, 200), (30, 20), (6, 4)]
    assert model.topk == [600, 60, 24]


@pytest.mark.parametrize("name", PAIR_MODELS)
def test_forward_backward_shapes(name):
    model = small(name)
    batch = make_batch(model, n=4)
    out = model(batch["enhancer"], batch["promoter"], return_attention=True)
    assert out["logit"].shape == (4,)
    if model.has_attention:
        assert out["enhancer_attention"].ndim == 2 and out["enhancer_attention"].shape[0] == 4
        assert out["promoter_attention"].shape[0] == 4
    model.loss(out, batch).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"


def test_attention_map_shapes():
    pam = small("epipam")
    batch = make_batch(pam, n=2)
    out = pam(batch["enhancer"], batch["promoter"], return_attention=True)
    assert out["enhancer_attention"].shape == (2, 250) and out["promoter_attention"].shape == (2, 150)
    torch.testing.assert_close(out["enhancer_attention"].sum(1), torch.ones(2))
    ann = small("epiann")
    batch = make_batch(ann, n=2)
    out = ann(batch["enhancer"], batch["promoter"], return_attention=True)
    assert out["enhancer_attention"].shape == (2, 20) and out["promoter_attention"].shape == (2, 13)
    assert out["enhancer_coordinates"].shape == (2, 2)
    pdlf = small("epipdlf")
    batch = make_batch(pdlf, n=2)
    out = pdlf(batch["enhancer"], batch["promoter"], return_attention=True)
    # (400 - 5 - 9) // 5 = 77 and (300 - 5 - 9) // 5 = 57 pooled positions.
    assert out["enhancer_attention"].shape == (2, 77) and out["promoter_attention"].shape == (2, 57)


@pytest.mark.parametrize("name", PAIR_MODELS)
def test_forward_equals_forward_embedded(name):
    model = small(name).eval()
    batch = make_batch(model, n=6, seed=3)
    with torch.no_grad():
        direct = model(batch["enhancer"], batch["promoter"])
        split = model.forward_embedded(model.embed_enhancer(batch["enhancer"]),
                                       model.embed_promoter(batch["promoter"]))
    for key in direct:
        torch.testing.assert_close(split[key], direct[key], atol=1e-6, rtol=0)


def test_forward_embedded_with_signals():
    model = small("epipdlf", n_signal_tracks=3, signal_dim=4, signal_heads=2).eval()
    batch = make_batch(model, n=4)
    signals = {"enhancer_signal": torch.rand(4, 5, 3), "promoter_signal": torch.rand(4, 4, 3)}
    with torch.no_grad():
        direct = model(batch["enhancer"], batch["promoter"], **signals)["logit"]
        split = model.forward_embedded(model.embed_enhancer(batch["enhancer"]),
                                       model.embed_promoter(batch["promoter"]), **signals)["logit"]
        other = model(batch["enhancer"], batch["promoter"],
                      enhancer_signal=signals["enhancer_signal"] * 5,
                      promoter_signal=signals["promoter_signal"])["logit"]
    torch.testing.assert_close(split, direct, atol=1e-6, rtol=0)
    assert not torch.allclose(other, direct), "the signal branch must influence the score"
    with pytest.raises(UsageError, match="enhancer_signal"):
        model(batch["enhancer"], batch["promoter"])
    with pytest.raises(UsageError, match=r"\(N, n_bins, 3\)"):
        model(batch["enhancer"], batch["promoter"], enhancer_signal=torch.rand(4, 5, 2),
              promoter_signal=signals["promoter_signal"])


@pytest.mark.parametrize("name", PAIR_MODELS)
def test_loss_decreases_on_a_separable_batch(name):
    # Without dropout the check is about optimisation, not about dropout noise on 16 pairs.
    no_dropout = {"dropout": 0.0, **({"head_dropout": 0.0} if name.startswith("epipam") else {})}
    model = small(name, **no_dropout)
    batch = make_batch(model, n=16, seed=1, motif=True)
    # EPIANN's loss is dominated by 10·BCE and leaves its plateau later; the tiny EPIPDLF
    # (6-dimensional branch vectors) needs a larger step.
    steps, lr = {"epiann": (30, None), "epipdlf": (20, 3e-3)}.get(name, (12, None))
    optimizer = model.configure_optimizer(lr=lr)

    def measured() -> float:
        torch.manual_seed(123)  # the same dropout masks for both measurements
        with torch.no_grad():
            return float(model.loss(model(batch["enhancer"], batch["promoter"]), batch))

    model.train()
    before = measured()
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(model(batch["enhancer"], batch["promoter"]), batch).backward()
        optimizer.step()
    after = measured()
    assert after < 0.8 * before, (before, after)


@pytest.mark.slow
def test_epipam_learns_a_planted_motif_pair():
    from epitools.training.metrics import auroc

    model = small("epipam", filters=32, hidden=64)
    train = make_batch(model, n=64, seed=1, motif=True)
    optimizer = model.configure_optimizer()
    model.train()
    for _ in range(30):
        optimizer.zero_grad()
        model.loss(model(train["enhancer"], train["promoter"]), train).backward()
        optimizer.step()
    model.eval()
    test = make_batch(model, n=64, seed=2, motif=True)
    with torch.no_grad():
        score = torch.sigmoid(model(test["enhancer"], test["promoter"])["logit"])
    assert auroc(test["label"].numpy(), score.numpy()) >= 0.9


# -- model-specific behaviour ----------------------------------------------------------------
def test_epipam_joint_loss_weights_main_and_aux():
    model = small("epipam", alpha=0.3)
    out = {"logit": torch.tensor([2.0, -1.0]), "aux_logit": torch.tensor([0.5, 0.5])}
    batch = {"label": torch.tensor([1.0, 0.0])}
    main = F.binary_cross_entropy_with_logits(out["logit"], batch["label"])
    aux = F.binary_cross_entropy_with_logits(out["aux_logit"], batch["label"])
    torch.testing.assert_close(model.loss(out, batch), 0.3 * main + 0.7 * aux)
    with pytest.raises(UsageError, match="alpha"):
        small("epipam", alpha=1.5)


def test_epiann_loss_combines_coordinates_and_bce():
    model = small("epiann")
    out = {"logit": torch.tensor([0.0, 0.0]),
           "enhancer_coordinates": torch.tensor([[0.25, 0.75], [0.0, 0.0]]),
           "promoter_coordinates": torch.tensor([[0.5, 0.5], [0.1, 0.1]])}
    batch = {"label": torch.tensor([1.0, 0.0])}
    bce = F.binary_cross_entropy_with_logits(out["logit"], batch["label"])
    torch.testing.assert_close(model.loss(out, batch), 10.0 * bce)  # no element columns
    # Enhancer of row 0 is predicted exactly (150/600, 450/600); row 1 is unknown (0, 0).
    batch["enhancer_element"] = torch.tensor([[150, 450], [0, 0]])
    batch["promoter_element"] = torch.tensor([[100, 300], [0, 0]])
    promoter_mse = ((0.5 - 0.25) ** 2 + (0.5 - 0.75) ** 2) / 2
    torch.testing.assert_close(model.loss(out, batch), 10.0 * bce + promoter_mse)


def test_unknown_labels_do_not_count():
    model = small("simcnn")
    out = {"logit": torch.tensor([3.0, -2.0, 0.0])}
    loss = model.loss(out, {"label": torch.tensor([1.0, -1.0, 0.0])})
    expected = F.binary_cross_entropy_with_logits(torch.tensor([3.0, 0.0]), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(loss, expected)


def test_bad_hyperparameters_and_inputs_are_usage_errors():
    with pytest.raises(UsageError, match="unknown hyperparameter"):
        build_model("epipam", filtres=3)
    with pytest.raises(UsageError, match="too short"):
        build_model("epipam", enhancer_length=600, promoter_length=400)
    model = small("simcnn")
    batch = make_batch(model, n=2)
    with pytest.raises(UsageError, match=r"\(N, 4, 600\)"):
        model(batch["promoter"], batch["promoter"])
    kmer = small("epipdlf")
    with pytest.raises(UsageError, match="k-mer ids"):
        kmer(torch.zeros(2, 4, 600), torch.zeros(2, 4, 400))


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    model = small("epipam_kmer").eval()
    path = tmp_path / "model.pt"
    torch.save({"model": model.name, "hparams": model.hparams, "encoding": model.encoding,
                "state_dict": model.state_dict()}, path)
    ckpt = torch.load(path, weights_only=True)
    rebuilt = build_model(ckpt["model"], **ckpt["hparams"]).eval()
    rebuilt.load_state_dict(ckpt["state_dict"])
    batch = make_batch(model, n=3)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(batch["enhancer"], batch["promoter"])["logit"],
                                   model(batch["enhancer"], batch["promoter"])["logit"])


# -- layers ----------------------------------------------------------------------------------
def test_position_attention_reweights_positions_from_the_relation_maxima():
    e = torch.tensor([[[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]]])   # (1, C=2, n=3)
    p = torch.tensor([[[1.0, 0.0], [1.0, 3.0]]])             # (1, C=2, m=2)
    e_new, p_new, relation, e_scores, p_scores = position_attention(e, p)
    torch.testing.assert_close(relation, torch.tensor([[[1.0, 0.0], [1.0, 3.0], [2.0, 0.0]]]))
    torch.testing.assert_close(e_scores, torch.softmax(torch.tensor([[1.0, 3.0, 2.0]]), 1))
    torch.testing.assert_close(p_scores, torch.softmax(torch.tensor([[2.0, 3.0]]), 1))
    torch.testing.assert_close(e_new, e * (1 + e_scores.unsqueeze(1)))
    torch.testing.assert_close(p_new, p * (1 + p_scores.unsqueeze(1)))


def test_topk_pool_returns_the_largest_values_in_order():
    x = torch.tensor([[[1.0, 5.0], [3.0, -1.0]], [[0.0, 0.5], [0.2, 0.1]]])
    torch.testing.assert_close(topk_pool(x, 3), torch.tensor([[5.0, 3.0, 1.0], [0.5, 0.2, 0.1]]))
    with pytest.raises(UsageError):
        topk_pool(x, 5)


@pytest.mark.parametrize("padding", ["same", "valid", 3])
def test_unfold_conv_matches_library_conv(padding):
    torch.manual_seed(0)
    fast = UnfoldConv1d(4, 6, 7, padding=padding)
    reference = torch.nn.Conv1d(4, 6, 7, padding=padding)
    reference.load_state_dict(fast.state_dict())
    x = torch.randn(3, 4, 50)
    y_fast, y_ref = fast(x), reference(x)
    torch.testing.assert_close(y_fast, y_ref, atol=1e-5, rtol=1e-5)
    y_fast.square().sum().backward()
    y_ref.square().sum().backward()
    torch.testing.assert_close(fast.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-4)


def test_unfold_conv_uses_the_library_kernel_without_gradients():
    torch.manual_seed(0)
    fast = UnfoldConv1d(4, 6, 7, padding="same")
    x = torch.randn(3, 4, 50)
    with torch.no_grad():
        # bit for bit the library convolution: predictions never mix the two kernels
        assert torch.equal(fast(x), torch.nn.Conv1d.forward(fast, x))
    torch.testing.assert_close(fast(x).detach(), torch.nn.Conv1d.forward(fast, x).detach(),
                               atol=1e-5, rtol=1e-5)


# -- pre-trained embeddings ------------------------------------------------------------------
def test_pretrained_embedding_is_loaded_and_checked(tmp_path):
    good = np.arange(4097 * 8, dtype=np.float64).reshape(4097, 8) / 1e4
    np.save(tmp_path / "good.npy", good)
    model = small("epipdlf", embedding_path=str(tmp_path / "good.npy"))
    np.testing.assert_allclose(model.enhancer_tower.embedding.weight.detach().numpy(), good, rtol=1e-6)
    assert model.enhancer_tower.embedding.weight.requires_grad  # fine-tuned with the model
    # The checkpoint carries the weights: rebuilding from saved hparams needs no matrix file.
    assert model.hparams["embedding_path"] is None
    assert model.hparams["embedding_source"] == str(tmp_path / "good.npy")
    (tmp_path / "good.npy").rename(tmp_path / "moved.npy")
    rebuilt = build_model("epipdlf", **model.hparams)
    rebuilt.load_state_dict(model.state_dict())
    np.testing.assert_allclose(rebuilt.promoter_tower.embedding.weight.detach().numpy(), good, rtol=1e-6)
    (tmp_path / "moved.npy").rename(tmp_path / "good.npy")

    np.save(tmp_path / "short.npy", good[:4096])
    with pytest.raises(InputError, match="4097") as err:
        small("epipdlf", embedding_path=str(tmp_path / "short.npy"))
    assert "short.npy" in str(err.value) and "shape" in str(err.value)
    with pytest.raises(InputError, match="embedding_dim is 16"):
        small("epipdlf", embedding_path=str(tmp_path / "good.npy"), embedding_dim=16)
    text = io.StringIO()
    np.savetxt(text, good[:, :3])
    (tmp_path / "emb.txt").write_text(text.getvalue())
    assert load_kmer_embedding(tmp_path / "emb.txt", k=6).shape == (4097, 3)


def test_dna2vec_matrix_from_shared_data(shared_data):
    path = shared_data / "embeddings" / "dna2vec_6mer_100d.npy"
    model = small("epipam_kmer", embedding_path=str(path), embedding_dim=100)
    expected = np.load(path)
    np.testing.assert_allclose(model.embedding.weight.detach().numpy(), expected, rtol=1e-6, atol=1e-7)


# -- PGD -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["epipdlf", "epipam_kmer"])
def test_pgd_perturbation_stays_in_the_l2_epsilon_ball(name):
    model = small(name).eval()
    batch = make_batch(model, n=4)
    epsilon = 0.05
    e_delta, p_delta = pgd_perturbation(model, batch, epsilon=epsilon, alpha=0.02, steps=4, norm="l2")
    tokens_e, tokens_p = model.enhancer_length - K + 1, model.promoter_length - K + 1
    assert e_delta.shape == (4, tokens_e, 8) and p_delta.shape == (4, tokens_p, 8)
    for delta in (e_delta, p_delta):
        norms = delta.flatten(1).norm(dim=1)
        assert bool((norms <= epsilon * (1 + 1e-5)).all())
        # Four steps of 0.02 reach the boundary of a 0.05 ball (samples whose loss has a
        # gradient; a tiny model can have a sample with an all-zero ReLU output).
        assert float(norms.max()) > 0.99 * epsilon
    # Steps far larger than the ball: every perturbation is projected back onto it.
    e_big, p_big = pgd_perturbation(model, batch, epsilon=epsilon, alpha=10.0, steps=2, norm="l2")
    for delta in (e_big, p_big):
        norms = delta.flatten(1).norm(dim=1)
        assert bool((norms <= epsilon * (1 + 1e-5)).all())
    assert all(p.grad is None for p in model.parameters()), "PGD must not touch parameter gradients"

    with torch.no_grad():
        clean = model.loss(model(batch["enhancer"], batch["promoter"]), batch)
    adversarial = pgd_adversarial_loss(model, batch, epsilon=epsilon, alpha=0.02, steps=4, norm="l2")
    assert float(adversarial.detach()) > float(clean)
    adversarial.backward()  # the adversarial loss trains the parameters
    assert all(p.grad is not None for p in model.parameters())


def test_project_l2_ball():
    delta = torch.tensor([[[3.0, 4.0]], [[0.3, 0.4]]])
    projected = project_l2_ball(delta, 1.0)
    torch.testing.assert_close(projected, torch.tensor([[[0.6, 0.8]], [[0.3, 0.4]]]))


def test_pgd_adversary_for_the_training_loop():
    model = small("epipdlf", adv_epsilon=0.1, adv_alpha=0.05, adv_steps=2)
    adversary = make_adversary("pgd", model)
    assert (adversary.epsilon, adversary.alpha, adversary.steps) == (0.1, 0.05, 2)
    batch = make_batch(model, n=4)
    loss = adversary.loss(model, batch, lambda out, b: model.loss(out, b))
    loss.backward()
    assert float(loss.detach()) > 0 and model.enhancer_tower.embedding.weight.grad is not None
    with pytest.raises(UsageError, match="unknown adversarial"):
        make_adversary("fgsm", model)


@pytest.mark.parametrize("name", ["epipam", "epiann", "simcnn"])
def test_pgd_on_models_without_embeddings_is_a_usage_error(name):
    model = small(name)
    batch = make_batch(model, n=2)
    with pytest.raises(UsageError, match="does not support"):
        pgd_perturbation(model, batch, epsilon=0.1, alpha=0.1, steps=1)
    with pytest.raises(UsageError, match="no token embeddings"):
        model(batch["enhancer"], batch["promoter"], enhancer_delta=torch.zeros(1))
