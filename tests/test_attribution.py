"""Attribution wrappers: k-mer re-tokenisation, element views, DeepLIFT/ISM on a tiny store."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epitools.data.encoding import kmer_ids, kmer_ids_to_codes, one_hot, onehot_to_kmer_ids
from epitools.errors import InputError, UsageError
from epitools.interpret.attribution import (ElementView, attribute, attribute_pairs, load_attributions,
                                            save_attributions)
from epitools.models.registry import build_model
from tests._planted import make_store


def test_onehot_to_kmer_ids_matches_numpy_tokeniser():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(3, 40)).astype(np.uint8)
    got = onehot_to_kmer_ids(torch.from_numpy(one_hot(codes)), 4).numpy()
    assert np.array_equal(got, kmer_ids(codes, 4).astype(np.int64))


def test_kmer_ids_to_codes_round_trip():
    codes = np.random.default_rng(1).integers(0, 4, size=(4, 30)).astype(np.uint8)
    assert np.array_equal(kmer_ids_to_codes(kmer_ids(codes, 6), 6), codes)


def test_element_view_matches_model_logit():
    model = build_model("simcnn", enhancer_length=60, promoter_length=50, filters=4, kernel=5, pool=5,
                        dense=8).eval()
    e = torch.from_numpy(one_hot(np.random.default_rng(2).integers(0, 4, (3, 60))))
    p = torch.from_numpy(one_hot(np.random.default_rng(3).integers(0, 4, (3, 50))))
    with torch.no_grad():
        logit = model(e, p)["logit"]
        assert torch.allclose(ElementView(model, "enhancer")(e, p)[:, 0], logit)
        assert torch.allclose(ElementView(model, "promoter")(p, e)[:, 0], logit)


def test_deep_lift_shap_shapes_and_reproducible(tmp_path):
    """Arrays in the layout TF-MoDISco-lite takes; the seed fixes the references."""
    store = make_store(tmp_path / "s.h5", n=12, enhancer_length=60, promoter_length=40)
    model = build_model("simcnn", enhancer_length=60, promoter_length=40, filters=4, kernel=5, pool=4,
                        dense=8).eval()
    res = attribute_pairs(model, store, n_shuffles=3, rows="all", device="cpu", seed=1)
    assert res["ohe"].shape == res["hyp_scores"].shape == (12, 4, 60)
    assert np.allclose(res["scores"], res["hyp_scores"] * res["ohe"])
    assert list(res["pair_id"]) == [f"p{i}" for i in range(12)]
    # Same seed, same references: reproducible.
    again = attribute_pairs(model, store, n_shuffles=3, rows="all", device="cpu", seed=1)
    assert np.allclose(res["hyp_scores"], again["hyp_scores"], atol=1e-6)
    # attribute() sends a pair model to attribute_pairs with the same options
    via = attribute(model, store, n_shuffles=3, rows="all", device="cpu", seed=1)
    assert np.allclose(res["hyp_scores"], via["hyp_scores"], atol=1e-6)


def test_ism_on_kmer_model_and_deeplift_refused(tmp_path):
    store = make_store(tmp_path / "k.h5", n=6, enhancer_length=40, promoter_length=30, encoding="kmer", k=4)
    model = build_model("epipam_kmer", enhancer_length=40, promoter_length=30, k=4, embedding_dim=8,
                        filters=4, kernels=(5, 3, 3), pools=(2, 2, 2)).eval()
    with pytest.raises(UsageError, match="ism"):
        attribute_pairs(model, store, method="deep_lift_shap", rows="all", device="cpu")
    res = attribute_pairs(model, store, method="ism", rows="all", device="cpu")
    assert res["hyp_scores"].shape == (6, 4, 40)
    # ISM scores are mean-centred across the four bases at each position.
    assert np.allclose(res["hyp_scores"].sum(1), 0, atol=1e-4)
    assert np.abs(res["hyp_scores"]).sum() > 0


def test_save_and_load_attributions(tmp_path):
    data = {"ohe": one_hot(np.zeros((2, 30), np.uint8)), "hyp_scores": np.ones((2, 4, 30), np.float32),
            "pair_id": np.array(["a", "b"]), "element": np.array("enhancer")}
    path = save_attributions(data, tmp_path / "a.npz")
    back = load_attributions(path)
    assert back["element"] == "enhancer" and back["scores"].shape == (2, 4, 30)
    bad = dict(data, hyp_scores=np.full((2, 4, 30), np.nan, np.float32))
    save_attributions(bad, tmp_path / "bad.npz")
    with pytest.raises(InputError, match="sequence 0"):
        load_attributions(tmp_path / "bad.npz")
    np.savez(tmp_path / "missing.npz", ohe=data["ohe"])
    with pytest.raises(InputError, match="hyp_scores"):
        load_attributions(tmp_path / "missing.npz")
