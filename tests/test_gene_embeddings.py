"""Training EPInformer with its sequence branch frozen embeds every gene once, with the same result."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import torch

from epitools.models.epinformer import EPInformer
from epitools.training.config import TrainConfig
from epitools.training.evaluation import predict_rows
from epitools.training.gene_embeddings import EmbeddedGeneSource, frozen_sequence_branch
from epitools.training.loop import train
from epitools.training.prepare import apply_freeze
from epitools.training.sources import GeneSource

pytestmark = pytest.mark.usefixtures("single_torch_thread")

BRANCH = ["sequence_encoder", "dilated", "positions"]


@pytest.fixture(scope="module")
def gene_store(tmp_path_factory):
    from epitools.data.gene_store import build_gene_store
    from epitools.data.simulate import SimulationConfig, simulate

    tmp = tmp_path_factory.mktemp("gene_embeddings")
    simulate(tmp / "sim", seed=3, config=SimulationConfig.tiny())
    return build_gene_store(tmp / "sim" / "genes.tsv", tmp / "sim" / "elements.bed", tmp / "sim" / "genome.fa",
                            tmp / "genes.h5", promoter_length=32, enhancer_length=32, max_enhancers=6)


def test_only_a_wholly_frozen_branch_counts():
    model = EPInformer(32, 32)
    assert not frozen_sequence_branch(model, apply_freeze(EPInformer(32, 32), ["sequence_encoder", "dilated"]))
    assert frozen_sequence_branch(model, apply_freeze(EPInformer(32, 32), BRANCH))
    assert not frozen_sequence_branch(torch.nn.Linear(2, 2), ["weight", "bias"])


def test_embedded_batches_predict_as_the_sequences(gene_store):
    torch.manual_seed(0)
    model = EPInformer(32, 32).eval()
    source = GeneSource(str(gene_store))
    try:
        rows = np.arange(len(source.expression))[::-1].copy()
        direct = predict_rows(model, source, rows, 5, torch.device("cpu"), amp=False)
        embedded = EmbeddedGeneSource(source, model, torch.device("cpu"), batch_size=4)
        assert embedded.arrays["enhancer_embedding"].shape == (len(rows), 6, 64)
        cached = predict_rows(model, embedded, rows, 7, torch.device("cpu"), amp=False)
    finally:
        source.close()
    np.testing.assert_allclose(cached, direct, rtol=1e-5, atol=1e-5)


def test_frozen_branch_training_equals_the_uncached_run(gene_store, tmp_path, monkeypatch, caplog):
    config = dict(data=str(gene_store), model="epinformer", split="chrom", folds=4, fold=1, epochs=3,
                  batch_size=4, seed=5, freeze=BRANCH, amp=False)
    with caplog.at_level("INFO", logger="epitools.training.gene_embeddings"):
        cached = train(TrainConfig(out=str(tmp_path / "cached"), **config))
    assert "computed once" in caplog.text
    # The uncached run: the same loop with the cache switched off.
    monkeypatch.setattr("epitools.training.prepare.frozen_sequence_branch", lambda model, frozen: False)
    direct = train(TrainConfig(out=str(tmp_path / "direct"), **config))
    assert cached["epochs"] == direct["epochs"] == 3
    assert cached["pearson_r"] == pytest.approx(direct["pearson_r"], abs=1e-4)
    a = pd.read_csv(tmp_path / "cached" / "predictions.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "direct" / "predictions.tsv", sep="\t")
    assert list(a["gene"]) == list(b["gene"])
    np.testing.assert_allclose(a["score"], b["score"], atol=1e-4)
    # The checkpoint is a whole EPInformer: it loads and predicts without the cache.
    state = torch.load(tmp_path / "cached" / "model.pt", weights_only=False)["state_dict"]
    EPInformer(32, 32).load_state_dict(state)
