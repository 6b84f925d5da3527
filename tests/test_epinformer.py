"""EPInformer: size, masks, variants, training contract, checkpoint and encoder pre-training."""

from __future__ import annotations

import pytest
import torch

from epitools.errors import ModelError, UsageError
from epitools.io.checkpoint import make_checkpoint
from epitools.models.registry import model_from_checkpoint
from epitools.models.epinformer import (PAPER_PARAMETERS, EPInformer, interaction_mask, parameter_count,
                                        pretrain_sequence_encoder)
from epitools.models.registry import build_model

L, M = 64, 6


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _batch(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, M, dtype=torch.bool)
    mask[:, :4] = True
    mask[1, 2:] = False  # gene 1 has two candidates
    enhancers = torch.randint(0, 4, (b, M, L), generator=g).to(torch.uint8)
    enhancers[~mask] = 4
    return {"promoter": torch.randint(0, 4, (b, L), generator=g).to(torch.uint8), "enhancers": enhancers,
            "enhancer_mask": mask, "features": torch.rand(b, M, 4, generator=g) * mask.unsqueeze(-1),
            "gene_features": torch.randn(b, 8, generator=g), "expression": torch.rand(b, generator=g) * 5}


def _model(**kw):
    torch.manual_seed(0)
    return EPInformer(L, L, max_enhancers=M, **kw)


def test_parameter_count_matches_paper():
    n = parameter_count(build_model("epinformer", variant="PE-Activity-HiC"))
    assert abs(n - PAPER_PARAMETERS) <= 0.10 * PAPER_PARAMETERS, n


def test_contract_attributes_and_optimizer():
    model = _model()
    assert model.task == "genes" and model.encoding == "onehot"
    assert model.hparams["variant"] == "PE-Activity-HiC"
    opt = model.configure_optimizer()
    assert isinstance(opt, torch.optim.AdamW)
    group = opt.param_groups[0]
    assert group["lr"] == 5e-4 and group["weight_decay"] == 1e-6 and group["betas"] == (0.9, 0.99)
    with pytest.raises(UsageError):
        EPInformer(L, L, variant="enhancer-only")
    with pytest.raises(ModelError):
        EPInformer(2000, 1000)


def test_padded_enhancer_never_changes_output():
    model = _model()
    batch = _batch()
    changed = {**batch, "enhancers": batch["enhancers"].clone(), "features": batch["features"].clone()}
    changed["enhancers"][1, 3] = torch.randint(0, 4, (L,)).to(torch.uint8)  # slot 3 of gene 1 is padding
    changed["features"][1, 3] = 7.0
    for train in (False, True):  # in training mode BatchNorm must not see padded slots either
        model.train(train)
        torch.manual_seed(1)
        a = model(**batch)
        torch.manual_seed(1)
        b = model(**changed)
        assert torch.allclose(a["prediction"], b["prediction"], atol=1e-6)
    # ... while a filled slot does change it.
    model.eval()
    changed["enhancers"][1, 0] = (changed["enhancers"][1, 0] + 1) % 4
    assert not torch.allclose(model(**batch)["prediction"][1], model(**changed)["prediction"][1])


def test_enhancer_enhancer_attention_blocked():
    model = _model().eval()
    batch = _batch()
    e = model.embed_enhancer(batch["enhancers"], batch["enhancer_mask"])
    p = model.embed_promoter(batch["promoter"])
    tokens, attention = model.interact(e, p, enhancer_mask=batch["enhancer_mask"], features=batch["features"])
    e2 = e.clone()
    e2[0, 2] += 5.0
    tokens2, _ = model.interact(e2, p, enhancer_mask=batch["enhancer_mask"], features=batch["features"])
    # Enhancer tokens 1, 3, 4 of gene 0 (tokens 2, 4, 5) see only the promoter (unchanged
    # before the first layer) and themselves; the promoter token sees enhancer 2.
    assert not torch.allclose(tokens[0, 0], tokens2[0, 0])
    first_layer_only = model.layers[0]
    h = model.fusion(torch.cat([torch.cat([p.unsqueeze(1), e], 1),
                                torch.cat([torch.zeros(3, 1, 4), batch["features"]], 1)], -1)
                     .transpose(1, 2)).transpose(1, 2)
    h2 = model.fusion(torch.cat([torch.cat([p.unsqueeze(1), e2], 1),
                                 torch.cat([torch.zeros(3, 1, 4), batch["features"]], 1)], -1)
                      .transpose(1, 2)).transpose(1, 2)
    padding = torch.cat([torch.zeros(3, 1, dtype=torch.bool), ~batch["enhancer_mask"]], 1)
    out1, w = first_layer_only(h, padding, interaction_mask(M))
    out2, _ = first_layer_only(h2, padding, interaction_mask(M))
    for token in (2, 4, 5):
        assert torch.allclose(out1[0, token], out2[0, token], atol=1e-6)
    assert not torch.allclose(out1[0, 3], out2[0, 3])
    # Attention weights: enhancer queries put zero weight on other enhancers and on padding.
    assert torch.all(w[0, :, 1, 2:] == 0)
    assert torch.all(w[:, :, 0, 1:][~batch["enhancer_mask"].unsqueeze(1).expand(-1, w.shape[1], -1)] == 0)
    assert attention.shape == (3, 3, 4, M)


def test_forward_equals_cached_embeddings_and_backward():
    model = _model().eval()
    batch = _batch()
    out = model(**batch)
    assert out["prediction"].shape == (3,)
    e = model.embed_enhancer(batch["enhancers"], batch["enhancer_mask"])
    cached = model.forward_embedded(e, model.embed_promoter(batch["promoter"]),
                                    enhancer_mask=batch["enhancer_mask"], features=batch["features"],
                                    gene_features=batch["gene_features"])
    assert torch.allclose(out["prediction"], cached["prediction"], atol=1e-6)
    model.train()
    loss = model.loss(model(**batch), batch)
    loss.backward()
    assert torch.isfinite(loss)
    for name in ("sequence_encoder.stem.1.weight", "positions.0.weight", "fusion.0.weight",
                 "layers.2.attention.in_proj_weight", "predictor.4.weight"):
        assert model.get_parameter(name).grad.abs().sum() > 0, name


def test_few_steps_fit_a_tiny_batch():
    model = _model(n_gene_features=0)
    batch = _batch(b=8, seed=3)
    batch["gene_features"] = batch["gene_features"][:, :1]  # the promoter signal only
    opt = model.configure_optimizer(lr=3e-3)
    first = None
    for _ in range(40):
        loss = model.loss(model(**batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.3 * first


def test_promoter_signal_enters_the_activity_variants_predictor():
    batch = _batch()
    signal = torch.tensor([[0.0], [1.0], [2.0]])
    with_signal = torch.cat([batch["gene_features"], signal], dim=1)  # GeneDataset's layout
    for variant, uses in (("PE-Activity", True), ("PE-Activity-HiC", True), ("PE", False),
                          ("promoter-only", False)):
        model = _model(variant=variant).eval()
        assert model.uses_promoter_signal is uses
        assert model.predictor[0].in_features == 64 + 8 + uses
        with torch.no_grad():
            plain = model(**batch)["prediction"]
            signalled = model(**{**batch, "gene_features": with_signal})["prediction"]
            zero = model(**{**batch, "gene_features": torch.cat([batch["gene_features"], 0 * signal], 1)})
        # width 8 (no signal) reads as signal 0
        torch.testing.assert_close(zero["prediction"], plain)
        assert (not torch.allclose(signalled[1:], plain[1:])) is uses
    off = _model(variant="PE-Activity", promoter_signal=False)
    assert not off.uses_promoter_signal and off.predictor[0].in_features == 72
    with pytest.raises(UsageError):
        _model()(**{**batch, "gene_features": torch.zeros(3, 5)})


def test_loss_skips_unknown_expression():
    model = _model()
    out = {"prediction": torch.tensor([1.0, 2.0, 3.0])}
    loss = model.loss(out, {"expression": torch.tensor([1.0, float("nan"), 5.0])})
    assert torch.isclose(loss, torch.tensor((0.0 + 1.5) / 2))


def test_variants_use_their_inputs():
    batch = _batch()
    promoter_only = _model(variant="promoter-only").eval()
    other = {**batch, "enhancers": torch.randint(0, 4, batch["enhancers"].shape).to(torch.uint8),
             "enhancer_mask": torch.ones(3, M, dtype=torch.bool)}
    assert torch.allclose(promoter_only(**batch)["prediction"], promoter_only(**other)["prediction"])
    pe = _model(variant="PE").eval()
    more = {**batch, "features": batch["features"].clone()}
    more["features"][..., 1:] += 3.0  # activity and contact: not seen by PE
    assert torch.allclose(pe(**batch)["prediction"], pe(**more)["prediction"])
    hic = _model(variant="PE-Activity-HiC").eval()
    more["features"] = batch["features"].clone()
    more["features"][0, 0, 3] += 3.0
    assert not torch.allclose(hic(**batch)["prediction"][0], hic(**more)["prediction"][0])


def test_one_hot_and_codes_agree_and_checkpoint_roundtrip():
    from epitools.data.encoding import one_hot

    model = _model().eval()
    batch = _batch()
    hot = {**batch, "promoter": one_hot(batch["promoter"]), "enhancers": one_hot(batch["enhancers"])}
    assert torch.allclose(model(**batch)["prediction"], model(**hot)["prediction"], atol=1e-6)
    ckpt = make_checkpoint(model, "epinformer", "onehot")
    again = model_from_checkpoint(ckpt)
    assert torch.allclose(model(**batch)["prediction"], again(**batch)["prediction"], atol=1e-6)


def test_pretrained_encoder_loads_into_epinformer():
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (48, 64), generator=g).to(torch.uint8)
    activity = (codes == 2).float().mean(1)  # GC-like signal the encoder can learn
    pre = pretrain_sequence_encoder(codes, activity, epochs=2, batch_size=16, seed=0)
    model = _model()
    model.load_sequence_encoder(pre)
    for key, value in pre.encoder.state_dict().items():
        assert torch.equal(model.sequence_encoder.state_dict()[key], value)
    model.load_sequence_encoder({f"encoder.{k}": v for k, v in pre.encoder.state_dict().items()})
    with pytest.raises(ModelError):
        model.load_sequence_encoder({"encoder.stem.1.weight": torch.zeros(3)})
