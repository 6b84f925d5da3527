"""Paper-faithful model options: embedding matrices of any width, EPIPAM's no-PAM ablation,
each model's paper schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epitools.errors import InputError, UsageError
from epitools.models import build_model
from epitools.models.layers import kmer_matrix_from_tokens
from epitools.models.registry import get_model_class
from epitools.training.config import TrainConfig, resolve_schedule

PDLF = dict(enhancer_length=400, promoter_length=300, filters=8, kernel=10, pool=5, gru_hidden=4,
            heads=2, branch_dim=6, hidden=5)
PAM = dict(enhancer_length=1000, promoter_length=600, filters=8, kernels=(5, 3, 3), pools=(4, 4, 2),
           hidden=16)


@pytest.mark.parametrize("name, sizes", [("epipdlf", PDLF), ("epipam_kmer", PAM)])
def test_embedding_file_of_any_width_sets_the_embedding(tmp_path, name, sizes):
    matrix = np.random.default_rng(0).normal(size=(4097, 12)).astype(np.float32)
    np.save(tmp_path / "m.npy", matrix)
    model = build_model(name, **sizes, embedding_file=str(tmp_path / "m.npy"))
    assert model.hparams["embedding_dim"] == 12           # the file's width, not the default 100
    assert model.hparams["embedding_file"] is None and model.hparams["embedding_source"] == str(tmp_path / "m.npy")
    weight = (model.enhancer_tower.embedding if name == "epipdlf" else model.embedding).weight
    np.testing.assert_allclose(weight.detach().numpy(), matrix)
    # rebuilding from the checkpoint's hparams needs no file
    rebuilt = build_model(name, **{k: v for k, v in model.hparams.items()})
    rebuilt.load_state_dict(model.state_dict())
    with pytest.raises(InputError, match="embedding_dim is 16"):
        build_model(name, **sizes, embedding_file=str(tmp_path / "m.npy"), embedding_dim=16)


def test_dnabert_style_vocabulary_is_reordered_into_the_kmer_layout():
    rng = np.random.default_rng(1)
    k = 2
    kmers = [a + b for a in "ACGT" for b in "ACGT"]
    shuffled = list(rng.permutation(kmers))
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *shuffled]
    vectors = rng.normal(size=(len(tokens), 3))
    out = kmer_matrix_from_tokens(tokens, vectors, k)
    assert out.shape == (17, 3)
    np.testing.assert_allclose(out[0], vectors[1], rtol=1e-6)                 # [UNK] → row 0
    for i, kmer in enumerate(kmers):                                          # ACGT order
        np.testing.assert_allclose(out[1 + i], vectors[tokens.index(kmer)], rtol=1e-6)
    with pytest.raises(InputError, match="no token"):
        kmer_matrix_from_tokens(tokens[:-1], vectors[:-1], k)


def test_dna2vec_file_through_embedding_file(shared_data):
    path = shared_data / "embeddings" / "dna2vec_6mer_100d.npy"
    model = build_model("epipdlf", **PDLF, embedding_file=str(path))
    assert model.hparams["embedding_dim"] == 100
    np.testing.assert_allclose(model.promoter_tower.embedding.weight.detach().numpy(), np.load(path),
                               rtol=1e-6, atol=1e-7)


def test_epipam_without_pam_is_the_papers_ablation():
    torch.manual_seed(0)
    full = build_model("epipam", **PAM)
    plain = build_model("epipam", **PAM, pam=False)
    assert plain.aux_head is None
    aux_params = sum(p.numel() for p in full.aux_head.parameters())
    assert sum(p.numel() for p in full.parameters()) - sum(p.numel() for p in plain.parameters()) == aux_params
    x_e, x_p = torch.rand(4, 4, 1000), torch.rand(4, 4, 600)
    batch = {"label": torch.tensor([0.0, 1.0, 0.0, 1.0])}
    out = plain.eval()(x_e, x_p)
    assert set(out) == {"logit"} and out["logit"].shape == (4,)
    # blocks without position re-weighting: the same weights give the plain CNN's logit
    plain.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("aux_head")})
    e, p = x_e, x_p
    for be, bp in zip(full.enhancer_blocks, full.promoter_blocks):
        e, p = be.eval()(e), bp.eval()(p)
    expected = full.eval().main_head(torch.cat([e.flatten(1), p.flatten(1)], dim=1))
    torch.testing.assert_close(plain(x_e, x_p)["logit"], expected)
    torch.testing.assert_close(plain.loss(out, batch), torch.nn.functional.binary_cross_entropy_with_logits(
        out["logit"], batch["label"]))
    with pytest.raises(UsageError, match="pam=false"):
        plain(x_e, x_p, return_attention=True)
    kmer = build_model("epipam_kmer", **PAM, embedding_dim=8, pam=False)          # EPI*
    assert kmer.aux_head is None


@pytest.mark.parametrize("name, epochs, patience", [("epiann", 90, 10), ("epipdlf", 15, 15),
                                                    ("epipam", 60, 10), ("epipam_kmer", 60, 10)])
def test_paper_schedules_are_the_defaults_and_documented(name, epochs, patience):
    cls = get_model_class(name)
    got = resolve_schedule(TrainConfig(data="x.h5", model=name, out="r"), cls.default_hparams)
    assert (got["epochs"], got["patience"]) == (epochs, patience)
    doc = __import__(cls.__module__, fromlist=["_"]).__doc__
    assert "Schedule" in doc and str(epochs) in doc


def test_epipdlf_stage_hparams_are_declared():
    hp = get_model_class("epipdlf").default_hparams
    assert (hp["pretrain_epochs"], hp["finetune_epochs"], hp["finetune_lr"]) == (15, 10, 1e-3)
