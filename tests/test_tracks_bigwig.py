"""Genome tracks (bedGraph/bigWig), top regions and attention tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from epitools.errors import InputError, UsageError
from epitools.interpret.tracks import (attention_maps, regions_table, top_regions, upsample,
                                       window_tracks)
from epitools.io.tracks import read_chrom_sizes, write_bedgraph, write_bigwig
from epitools.models.registry import build_model
from tests._planted import make_store


def test_overlapping_windows_are_averaged_and_written_to_bigwig(tmp_path):
    values = np.array([[1.0] * 10, [3.0] * 10])
    seg = window_tracks(values, ["chr1", "chr1"], [100, 105], {"chr1": 1000, "chr2": 50})
    assert seg[["start", "end", "value"]].values.tolist() == [[100, 105, 1.0], [105, 110, 2.0],
                                                             [110, 115, 3.0]]
    path = write_bigwig(seg, tmp_path / "t.bw", {"chr1": 1000, "chr2": 50})
    bw = pyBigWig.open(str(path))
    assert bw.chroms() == {"chr1": 1000, "chr2": 50}
    assert bw.values("chr1", 104, 106) == [1.0, 2.0]
    bw.close()
    text = write_bedgraph(seg, tmp_path / "t.bedGraph", "x").read_text().splitlines()
    assert text[0].startswith("track") and text[1] == "chr1\t100\t105\t1"


def test_reverse_complemented_windows_flip_and_edges_clip():
    seg = window_tracks(np.array([[1.0, 2.0, 3.0]]), ["chr1"], [-1], {"chr1": 10}, [True])
    assert seg[["start", "end", "value"]].values.tolist() == [[0, 1, 2.0], [1, 2, 1.0]]
    with pytest.raises(InputError, match="chrX"):
        window_tracks(np.ones((1, 3)), ["chrX"], [0], {"chr1": 10})


def test_top_regions_are_non_overlapping_and_best_first():
    values = np.zeros((1, 200))
    values[0, 20:30] = 5.0
    values[0, 150:160] = 3.0
    starts, scores = top_regions(values, width=45, n_regions=3)
    assert scores[0, 0] == 50 and 20 <= starts[0, 0] + 45 - 10 and starts[0, 0] <= 20
    assert scores[0, 1] == 30 and abs(starts[0, 1] - starts[0, 0]) >= 45
    with pytest.raises(UsageError):
        top_regions(values, width=300)
    meta = {"pair_id": np.array(["a"]), "label": np.array([1]), "chrom": np.array(["chr1"]),
            "window_start": np.array([1000]), "reverse_complement": np.array([False])}
    table = regions_table(values, np.zeros((1, 4, 200)), meta, "enhancer", "attribution", 45, 2)
    assert table.loc[0, "start"] == 1000 + starts[0, 0] and set(table["sequence"]) == {"N" * 45}


def test_upsample_and_chrom_sizes(tmp_path):
    assert upsample(np.array([[1.0, 2.0]]), 5).tolist() == [[1, 1, 1, 2, 2]]
    (tmp_path / "c.sizes").write_text("chr1\t100\nchr2\tabc\n")
    with pytest.raises(InputError, match="line 2"):
        read_chrom_sizes(tmp_path / "c.sizes")


def test_epipam_attention_tracks_from_the_store(tmp_path):
    store = make_store(tmp_path / "s.h5", n=8, enhancer_length=100, promoter_length=80)
    model = build_model("epipam", enhancer_length=100, promoter_length=80, filters=4, kernels=(5, 3, 3),
                        pools=(2, 2, 2), hidden=4).eval()
    maps = attention_maps(model, store, np.arange(8))
    assert maps["enhancer"].shape == (8, 50) and np.allclose(maps["enhancer"].sum(1), 1, atol=1e-5)
    with pytest.raises(UsageError, match="attention"):
        attention_maps(build_model("simcnn", enhancer_length=100, promoter_length=80, filters=2,
                                   kernel=5, pool=5, dense=4), store, [0])


def test_write_tracks_attention_and_attribution_files(tmp_path):
    from epitools.interpret.attribution import save_attributions
    from epitools.interpret.tracks import write_tracks

    store = make_store(tmp_path / "s.h5", n=8, enhancer_length=100, promoter_length=80)
    model = build_model("epipam", enhancer_length=100, promoter_length=80, filters=4, kernels=(5, 3, 3),
                        pools=(2, 2, 2), hidden=4).eval()
    sizes = {f"chr{i}": 100_000 for i in range(1, 5)}
    rng = np.random.default_rng(0)
    ohe = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 100))].transpose(0, 2, 1)
    attr = save_attributions({"ohe": ohe, "hyp_scores": rng.normal(size=ohe.shape).astype(np.float32),
                              "pair_id": np.array(["a", "b", "c"]), "label": np.array([1, 0, 1]),
                              "chrom": np.array(["chr1", "chr2", "chr1"]),
                              "window_start": np.array([1000, 2000, 1050]),
                              "reverse_complement": np.zeros(3, bool), "element": np.array("enhancer")},
                             tmp_path / "attributions.npz")
    out = write_tracks(tmp_path / "tracks", sizes, attributions=attr, model=model, store=store, width=10,
                       n_regions=2)
    names = {p.name for p in out.iterdir()}
    assert {"enhancer_attribution.bw", "enhancer_attribution.bedGraph", "enhancer_attention.bw",
            "promoter_attention.bw", "enhancer_top_regions.tsv", "promoter_top_regions.bed"} <= names
    # the enhancer's top regions come from its attributions (3 windows x 2), the promoter's from attention
    assert set(pd.read_csv(out / "enhancer_top_regions.tsv", sep="\t")["source"]) == {"attribution"}
    assert set(pd.read_csv(out / "promoter_top_regions.tsv", sep="\t")["source"]) == {"attention"}
    with pytest.raises(UsageError, match="--attributions and/or --model"):
        write_tracks(tmp_path / "x", sizes)
    with pytest.raises(UsageError, match="go together"):
        write_tracks(tmp_path / "x", sizes, model=model)
