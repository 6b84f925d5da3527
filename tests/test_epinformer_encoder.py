"""EPInformer's encoder pre-training: activity store, epi-train --model epinformer_encoder, --init-from."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from epitools.cli.encode import main as encode
from epitools.cli.train import main as train_cli
from epitools.data.encoding import reverse_complement
from epitools.io.checkpoint import load_checkpoint
from epitools.io.genes import read_elements

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, simulated):
    tmp = tmp_path_factory.mktemp("encoder")
    store = tmp / "activity.h5"
    result = CliRunner().invoke(encode, ["activity", "--elements", str(simulated / "elements.bed"),
                                         "--genome", str(simulated / "genome.fa"), "--enhancer-length", "64",
                                         "-q", "-o", str(store)])
    assert result.exit_code == 0, result.output
    run = tmp / "encoder_run"
    result = CliRunner().invoke(train_cli, ["--data", str(store), "--model", "epinformer_encoder",
                                            "--split", "chrom", "--folds", "4", "--fold", "1",
                                            "--epochs", "2", "--batch-size", "64", "-q", "-o", str(run)])
    assert result.exit_code == 0, result.output
    return {"store": store, "run": run, "tmp": tmp}


def test_activity_store_rows_targets_and_reverse_complements(pretrained, simulated):
    elements = read_elements(simulated / "elements.bed")
    with h5py.File(pretrained["store"]) as h5:
        n = len(elements)
        assert h5.attrs["kind"] == "activity" and h5["sequence"].shape == (2 * n, 64)
        seq, flipped = h5["sequence"][:], h5["reverse_complement"][:]
        np.testing.assert_array_equal(seq[n:], reverse_complement(seq[:n]))
        assert not flipped[:n].any() and flipped[n:].all()
        np.testing.assert_allclose(h5["activity"][:n],
                                   np.log1p(np.sqrt(elements["dnase"] * elements["h3k27ac"])), rtol=1e-6)


def test_encoder_trains_on_chromosome_folds_with_forward_strands_scored(pretrained):
    import json
    import pandas as pd

    metrics = json.loads((pretrained["run"] / "metrics.json").read_text())
    assert metrics["task"] == "activity" and metrics["epochs"] == 2 and "pearson_r" in metrics
    predictions = pd.read_csv(pretrained["run"] / "predictions.tsv", sep="\t")
    assert len(predictions) == metrics["n"] and predictions["name"].is_unique
    assert set(predictions["chrom"]) == set(metrics["split_info"]["test_chroms"])


def test_init_from_loads_the_encoder_into_epinformer(pretrained, simulated):
    tmp = pretrained["tmp"]
    genes = tmp / "genes.h5"
    result = CliRunner().invoke(encode, ["genes", "--genes", str(simulated / "genes.tsv"), "--elements",
                                         str(simulated / "elements.bed"), "--genome", str(simulated / "genome.fa"),
                                         "--enhancer-length", "32", "--promoter-length", "32",
                                         "--max-enhancers", "4", "-q", "-o", str(genes)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(train_cli, ["--data", str(genes), "--model", "epinformer", "--split", "chrom",
                                            "--folds", "4", "--fold", "1", "--epochs", "1", "--batch-size", "8",
                                            "--init-from", str(pretrained["run"] / "model.pt"),
                                            "--freeze", "sequence_encoder", "-q", "-o", str(tmp / "epinformer")])
    assert result.exit_code == 0, result.output
    encoder = load_checkpoint(pretrained["run"] / "model.pt")["state_dict"]
    trained = load_checkpoint(tmp / "epinformer" / "model.pt")["state_dict"]
    weights = [k for k in encoder if k.startswith("encoder.") and "running" not in k and "num_batches" not in k]
    assert weights
    for key in weights:
        assert torch.equal(trained["sequence_encoder." + key.removeprefix("encoder.")], encoder[key]), key
    # A checkpoint of another model is refused, naming both.
    result = CliRunner().invoke(train_cli, ["--data", str(pretrained["store"]), "--model", "epinformer_encoder",
                                            "--split", "chrom", "--folds", "4", "--fold", "1", "--epochs", "1",
                                            "--init-from", str(tmp / "epinformer" / "model.pt"),
                                            "-q", "-o", str(tmp / "refused")])
    assert result.exit_code == 2 and "'epinformer' model, not 'epinformer_encoder'" in result.output


def test_encoder_windows_and_options_are_checked(pretrained):
    from epitools.errors import ModelError, UsageError
    from epitools.models.epinformer_encoder import EnhancerActivityModel

    with pytest.raises(ModelError, match="multiple of 16"):
        EnhancerActivityModel(100)
    with pytest.raises(UsageError, match="unknown hyperparameter"):
        EnhancerActivityModel(64, hiden=3)
    result = CliRunner().invoke(train_cli, ["--data", str(pretrained["store"]), "--model", "epinformer_encoder",
                                            "--split", "random", "--epochs", "1", "-q",
                                            "-o", str(pretrained["tmp"] / "bad")])
    assert result.exit_code == 2 and "chromosome" in result.output



def test_a_fresh_process_reads_the_blosc_activity_store(pretrained):
    """epi-encode activity and epi-train run as separate commands: the reader must register the
    Blosc filter itself, not rely on another module having loaded it in the same process."""
    import subprocess
    import sys

    code = ("import sys; from epitools.training.activity_source import ActivitySource; "
            "s = ActivitySource(sys.argv[1]); print(len(s.table))")
    done = subprocess.run([sys.executable, "-c", code, str(pretrained["store"])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 0


def _forward_strand_motif_windows(n: int = 512, length: int = 64, seed: int = 0):
    """Random windows; half carry a non-palindromic site on the forward strand only (activity 2)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    site = np.array([0, 0, 2, 1, 1, 0, 0, 2, 2], np.uint8)  # AAGCCAAGG; its reverse complement differs
    planted = np.arange(n) % 2 == 1
    starts = rng.integers(0, length - site.size, n)
    for row in np.flatnonzero(planted):
        codes[row, starts[row]:starts[row] + site.size] = site
    return codes, planted.astype(np.float32) * 2


def test_pretraining_reads_both_strands():
    """With reverse-complement augmentation (the paper's), a site seen only on the forward
    strand in training is recognised on the reverse strand too."""
    from sklearn.metrics import roc_auc_score

    from epitools.models.epinformer_encoder import pretrain_sequence_encoder

    codes, activity = _forward_strand_motif_windows()
    test_codes, test_activity = _forward_strand_motif_windows(seed=1)
    reverse = torch.as_tensor(reverse_complement(test_codes).copy())
    scores = {}
    for augment in (True, False):
        model = pretrain_sequence_encoder(codes, activity, epochs=8, batch_size=32, seed=0,
                                          augment_reverse_complement=augment)
        with torch.no_grad():
            scores[augment] = roc_auc_score(test_activity > 0, model(reverse)["prediction"].numpy())
    assert scores[True] > 0.9, scores
    assert scores[True] > scores[False] + 0.1, scores
