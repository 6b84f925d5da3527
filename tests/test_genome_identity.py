"""A model, a store and a genome from different builds are refused (issue: wrong genome
builds); elements with no base inside their chromosome are refused; overhanging windows are
N-padded and counted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from _planted import PlantedCNN
from epitools.cli.encode import main as encode_cli
from epitools.cli.predict import main as predict_cli
from epitools.errors import GenomeError
from epitools.io.checkpoint import make_checkpoint, save_checkpoint
from epitools.io.genome import compare_genomes
from epitools.io.store import open_store


def _fasta(path, sizes: dict, seed: int = 0):
    rng = np.random.default_rng(seed)
    path.write_text("".join(f">{c}\n{''.join(rng.choice(list('ACGT'), size=n))}\n" for c, n in sizes.items()))
    return path


def _pairs(path, n: int = 12, enhancer_start: int = 400):
    rows = [("chr1", enhancer_start + 50 * i, enhancer_start + 50 * i + 40, "chr1", 2000 + 20 * i, 2030 + 20 * i,
             f"p{i}", i % 2) for i in range(n)]
    pd.DataFrame(rows, columns=["enhancer_chrom", "enhancer_start", "enhancer_end", "promoter_chrom",
                                "promoter_start", "promoter_end", "pair_id", "label"]).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture()
def builds(tmp_path):
    """Genome A (the model's), genome B (chr2 of another length), a store and a checkpoint from A."""
    a = _fasta(tmp_path / "buildA.fa", {"chr1": 3000, "chr2": 2000})
    b = _fasta(tmp_path / "buildB.fa", {"chr1": 3000, "chr2": 2500})
    pairs = _pairs(tmp_path / "pairs.tsv")
    store = tmp_path / "a.h5"
    res = CliRunner().invoke(encode_cli, ["pairs", "--pairs", str(pairs), "--genome", str(a), "--enhancer-length",
                                          "120", "--promoter-length", "80", "-q", "-o", str(store)])
    assert res.exit_code == 0, res.output
    torch.manual_seed(0)
    model = PlantedCNN(enhancer_length=120, promoter_length=80).eval()
    ckpt = tmp_path / "model.pt"
    save_checkpoint(make_checkpoint(model, "planted_cnn", "onehot",
                                    {"fold": 1, "store_attrs": open_store(store).attrs}), ckpt)
    return {"a": a, "b": b, "pairs": pairs, "store": store, "ckpt": ckpt, "tmp": tmp_path}


def test_store_records_the_genome_identity(builds):
    attrs = open_store(builds["store"]).attrs
    assert json.loads(attrs["genome_chrom_sizes"]) == {"chr1": 3000, "chr2": 2000}
    assert attrs["genome_checksum"].startswith("sha256:")


def test_predicting_on_another_build_is_refused_naming_both_files(builds):
    out = builds["tmp"] / "pred.tsv"
    res = CliRunner().invoke(predict_cli, ["--model", str(builds["ckpt"]), "--pairs", str(builds["pairs"]),
                                           "--genome", str(builds["b"]), "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert "chr2" in res.output and "model.pt" in res.output and "buildB.fa" in res.output
    assert "2,000" in res.output and "2,500" in res.output and "--allow-genome-mismatch" in res.output
    assert not out.exists() and not list(builds["tmp"].glob(".pred*"))
    res = CliRunner().invoke(predict_cli, ["--model", str(builds["ckpt"]), "--pairs", str(builds["pairs"]),
                                           "--genome", str(builds["b"]), "--allow-genome-mismatch", "-q",
                                           "-o", str(out)])
    assert res.exit_code == 0, res.output
    sidecar = json.loads((builds["tmp"] / "pred.tsv.json").read_text())
    assert sidecar["genome_match"] == "mismatch-allowed" and sidecar["allow_genome_mismatch"] is True
    assert sidecar["genome_first_difference"] == "chr2"


def test_a_store_of_another_build_is_refused(builds):
    other = builds["tmp"] / "b.h5"
    res = CliRunner().invoke(encode_cli, ["pairs", "--pairs", str(builds["pairs"]), "--genome", str(builds["b"]),
                                          "--enhancer-length", "120", "--promoter-length", "80", "-q", "-o", str(other)])
    assert res.exit_code == 0, res.output
    out = builds["tmp"] / "pred.tsv"
    res = CliRunner().invoke(predict_cli, ["--model", str(builds["ckpt"]), "--data", str(other), "-o", str(out)])
    assert res.exit_code == 2 and "b.h5" in res.output and "chr2" in res.output
    assert not out.exists()
    res = CliRunner().invoke(predict_cli, ["--model", str(builds["ckpt"]), "--data", str(builds["store"]), "-q",
                                           "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((builds["tmp"] / "pred.tsv.json").read_text())["genome_match"] == "same"


def test_same_lengths_under_aliases_match_and_unknown_identity_is_not_an_error():
    a = {"chrom_sizes": {"chr1": 10, "chrM": 5}, "checksum": "sha256:1", "source": "a"}
    b = {"chrom_sizes": {"1": 10, "MT": 5, "2": 7}, "checksum": "sha256:2", "source": "b"}
    assert compare_genomes(a, b)["genome_match"] == "different-checksum"
    assert compare_genomes(a, None)["genome_match"] == "unknown"
    with pytest.raises(GenomeError, match="chrM is 5 bp in a but 6 bp in b"):
        compare_genomes(a, {"chrom_sizes": {"1": 10, "MT": 6}, "source": "b"})


def test_an_element_outside_its_chromosome_is_a_wrong_build(builds):
    """An element wholly past the end is refused with its record; one whose window only
    overhangs the end is N-padded and counted."""
    tmp = builds["tmp"]
    table = pd.read_csv(builds["pairs"], sep="\t")
    table.loc[3, ["enhancer_start", "enhancer_end"]] = [3200, 3300]  # chr1 is 3,000 bp
    bad = tmp / "bad.tsv"
    table.to_csv(bad, sep="\t", index=False)
    out = tmp / "bad.h5"
    res = CliRunner().invoke(encode_cli, ["pairs", "--pairs", str(bad), "--genome", str(builds["a"]), "-o", str(out)])
    assert res.exit_code == 2, res.output
    # the file line (header + 4th row), not a record number
    assert "bad.tsv, line 5" in res.output and "pair_id p3" in res.output and "wrong genome build" in res.output
    assert not out.exists()
    res = CliRunner().invoke(predict_cli, ["--model", str(builds["ckpt"]), "--pairs", str(bad), "--genome",
                                           str(builds["a"]), "-o", str(tmp / "p.tsv")])
    assert res.exit_code == 2 and "wrong genome build" in res.output
    table.loc[3, ["enhancer_start", "enhancer_end"]] = [2950, 2990]  # window overhangs the end
    table.to_csv(bad, sep="\t", index=False)
    res = CliRunner().invoke(encode_cli, ["pairs", "--pairs", str(bad), "--genome", str(builds["a"]),
                                          "--enhancer-length", "120", "--promoter-length", "80", "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert open_store(out).attrs["padded_windows"] == 1
