"""EPIPDLF's genomic branch fed end to end: simulated tracks → epi-encode --signal → training."""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from epitools.cli.encode import main as encode_cli
from epitools.data import simulate_signals
from epitools.data.pair_store import window_signals
from epitools.data.simulate import SimulationConfig, simulate
from epitools.io.tracks import write_bedgraph
from epitools.models import build_model


def test_window_signals_average_each_bin(tmp_path):
    track = pd.DataFrame({"chrom": ["c1", "c1"], "start": [100, 150], "end": [150, 200], "value": [2.0, 4.0]})
    path = write_bedgraph(track, tmp_path / "t.bedGraph")
    got = window_signals(np.array(["c1", "c1"]), np.array([100, 50]), 100, {"a": path, "b": path}, n_bins=2,
                         chrom_sizes={"c1": 1000})
    assert got.shape == (2, 2, 2) and got.dtype == np.float32
    np.testing.assert_allclose(got[0, :, 0], [2.0, 4.0])   # [100,150) and [150,200)
    np.testing.assert_allclose(got[1, :, 0], [0.0, 2.0])   # [50,100) empty, [100,150)
    whole = window_signals(np.array(["c1"]), np.array([100]), 100, {"a": path})
    np.testing.assert_allclose(whole[0, 0, 0], 3.0)


def test_simulated_tracks_carry_the_planted_effect_and_leave_other_files_unchanged(tmp_path, monkeypatch):
    simulate(tmp_path / "with", seed=3, config=SimulationConfig.tiny())
    monkeypatch.setattr(simulate_signals, "write_signal_tracks", lambda *a, **k: [])
    simulate(tmp_path / "without", seed=3, config=SimulationConfig.tiny())
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    without = sorted(p.name for p in (tmp_path / "without").iterdir())
    for name in without:
        if name in ("hic.hic",):  # written by an external library that may stamp it
            continue
        assert digest(tmp_path / "with" / name) == digest(tmp_path / "without" / name), name
    assert {f"{t}.bw" for t in simulate_signals.TRACKS} <= {p.name for p in (tmp_path / "with").iterdir()}
    pairs = pd.read_csv(tmp_path / "with" / "pairs.tsv", sep="\t")
    values = simulate_signals.signal_values(pairs, np.random.default_rng(0))
    linked = values["linked"].to_numpy()
    assert values["signal_mark"][linked].mean() > values["signal_mark"][~linked].mean() + 2
    assert abs(values["signal_ctcf"][linked].mean() - values["signal_ctcf"][~linked].mean()) < 0.5


@pytest.fixture(scope="module")
def signal_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("sig")
    sim = root / "sim"
    simulate(sim, seed=0, config=SimulationConfig.tiny())
    out = root / "pairs.h5"
    res = CliRunner().invoke(encode_cli, [
        "pairs", "--pairs", str(sim / "pairs.tsv"), "--genome", str(sim / "genome.fa"), "-o", str(out),
        "--encoding", "kmer", "--k", "4", "--enhancer-length", "200", "--promoter-length", "200",
        "--signal", f"mark={sim / 'signal_mark.bw'}", "--signal", f"ctcf={sim / 'signal_ctcf.bedGraph'}",
        "--signal-bins", "4", "--reverse-complement"])
    assert res.exit_code == 0, res.output
    return sim, out


def test_encode_stores_per_bin_signals(signal_store):
    sim, out = signal_store
    with h5py.File(out) as h5:
        assert json.loads(h5.attrs["signal_tracks"]) == ["mark", "ctcf"] and int(h5.attrs["signal_bins"]) == 4
        e, p = h5["enhancer_signal"][:], h5["promoter_signal"][:]
        rc = h5["reverse_complement"][:]
        label = h5["label"][:]
    n = len(rc)
    assert e.shape == (n, 4, 2) and p.shape == (n, 4, 2)
    # a reverse-complemented row follows its original with the bins reversed
    flipped = np.flatnonzero(rc)
    np.testing.assert_allclose(e[flipped], e[flipped - 1][:, ::-1])
    # the planted mark is higher over the enhancers of positive pairs
    assert e[label == 1, :, 0].mean() > e[label == 0, :, 0].mean()


def test_bad_signal_option_is_a_usage_error(signal_store, tmp_path):
    sim, _ = signal_store
    res = CliRunner().invoke(encode_cli, ["pairs", "--pairs", str(sim / "pairs.tsv"), "--genome",
                                          str(sim / "genome.fa"), "-o", str(tmp_path / "x.h5"), "--signal", "mark"])
    assert res.exit_code == 2 and "NAME=FILE" in res.output


def test_epipdlf_signal_branch_shapes():
    torch.manual_seed(0)
    model = build_model("epipdlf", enhancer_length=200, promoter_length=200, k=4, embedding_dim=8, filters=8,
                        kernel=10, pool=5, gru_hidden=4, heads=2, branch_dim=6, hidden=5, n_signal_tracks=2,
                        signal_dim=8, signal_heads=2)
    branch = sum(p.numel() for p in model.enhancer_signal.parameters())
    # MLP 2→8→8, attention 8 (in-proj 3·8·8+24, out 8·8+8), LayerNorm 16
    assert branch == (2 * 8 + 8) + (8 * 8 + 8) + (3 * 64 + 24) + (64 + 8) + 16
    ids = torch.randint(1, 257, (3, 197))
    out = model.eval()(ids, ids, enhancer_signal=torch.rand(3, 4, 2), promoter_signal=torch.rand(3, 4, 2))
    assert out["logit"].shape == (3,)


def test_training_feeds_the_signals_to_the_genomic_branch(signal_store, tmp_path):
    from epitools.training.loop import TrainConfig, train

    _, store = signal_store
    out = tmp_path / "run"
    hp = {"k": 4, "embedding_dim": 8, "filters": 8, "kernel": 10, "pool": 5, "gru_hidden": 4, "heads": 2,
          "branch_dim": 6, "hidden": 8, "signal_dim": 8, "signal_heads": 2, "dropout": 0.0}
    result = train(TrainConfig(data=str(store), model="epipdlf", out=str(out), split="chrom", folds=4, fold=1,
                               epochs=1, seed=0, lr=3e-3, hparams=hp, device="cpu",
                               max_batches=20))
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert ckpt["hparams"]["n_signal_tracks"] == 2
    assert any(k.startswith("enhancer_signal.") for k in ckpt["state_dict"])
    assert result["n"] > 0 and result["auroc"] is not None
