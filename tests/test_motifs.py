"""JASPAR loading, Tomtom matching, BH, logos/HTML and filter PWMs."""

from __future__ import annotations

import numpy as np
import torch

from epitools.data.simulate_motifs import load_motif, sample_instances
from epitools.interpret.jaspar import load_jaspar, same_tf
from epitools.interpret.motifs import (Pattern, benjamini_hochberg, filter_ppms, information_content,
                                       match_motifs, motifs_table, pattern_logos, write_html, write_meme)


def test_jaspar_core_vertebrates_non_redundant():
    db = load_jaspar()
    assert len(db) > 800 and len({i.split(".")[0] for i in db.ids}) == len(db)
    ppm = db.ppms[db.index("MA0099.4")]
    assert ppm.shape[0] == 4 and np.allclose(ppm.sum(0), 1)
    assert same_tf("FOS::JUN", "jun") and not same_tf("NRF1", "ELK1")


def test_tomtom_finds_the_motif_itself_with_small_q():
    db = load_jaspar()
    query = db.ppms[db.index("MA0506.3")][:, 1:-1]  # trimmed NRF1
    table = match_motifs([query], ["q"], db, top=2)
    assert table.iloc[0]["tf"].upper() == "NRF1" and table.iloc[0]["q_value"] < 0.05
    assert list(table["rank"]) == [1, 2]


def test_benjamini_hochberg_known_values():
    # sorted p 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.06, 0.0533, 0.5 -> monotone 0.04, 0.0533, 0.0533, 0.5
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5]))
    assert np.allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_logos_table_and_html(tmp_path):
    motif = load_motif("MA0099.4")
    pat = Pattern("pos_pattern_0", "pos", motif.probs, motif.probs * 0.1, motif.probs, 42)
    matches = match_motifs([pat.ppm], [pat.name], top=3)
    table = motifs_table([pat], matches)
    assert table.loc[0, "n_seqlets"] == 42 and table.loc[0, "strand"] == "+"
    logos = pattern_logos([pat], tmp_path / "logos")
    assert all(p.stat().st_size > 0 for p in logos[pat.name])
    page = write_html(table, logos, tmp_path / "motifs.html").read_text()
    assert "logos/pos_pattern_0.ic.png" in page and table.loc[0, "match1_id"] in page
    assert information_content(np.full((4, 3), 0.25)).max() < 1e-9


def test_filter_ppms_recover_the_motif_a_filter_was_set_to(tmp_path):
    from epitools.models.registry import build_model

    motif = load_motif("MA0506.3")
    model = build_model("simcnn", enhancer_length=80, promoter_length=80, filters=2, kernel=motif.length,
                        pool=5, dense=4).eval()
    with torch.no_grad():  # filter 0 = the motif's log-odds, filter 1 = nothing
        w = model.enhancer_branch[0].weight
        w.zero_()
        w[0] = torch.from_numpy(np.log2(motif.probs / 0.25)).float()
        model.enhancer_branch[0].bias.zero_()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (60, 80)).astype(np.uint8)
    codes[:, 30:30 + motif.length] = sample_instances(motif, 60, 3.0, rng)
    res = filter_ppms(model, codes)
    assert res["n_sites"][0] >= 50 and res["n_sites"][1] == 0
    assert match_motifs([res["ppms"][0]], ["f0"], top=1).iloc[0]["tf"].upper() == "NRF1"
    text = write_meme(res["ppms"], res["names"], tmp_path / "f.meme").read_text()
    assert "MOTIF filter_0" in text



def test_filter_motifs_writes_tables_even_without_active_filters(tmp_path):
    import pandas as pd

    from epitools.interpret.motifs import filter_motifs
    from epitools.models.registry import build_model
    from tests._planted import make_store

    motif = load_motif("MA0506.3")
    store = make_store(tmp_path / "s.h5", n=40, enhancer_length=80, promoter_length=80)
    model = build_model("simcnn", enhancer_length=80, promoter_length=80, filters=2, kernel=motif.length,
                        pool=5, dense=4).eval()
    with torch.no_grad():
        model.enhancer_branch[0].weight.zero_()
        model.enhancer_branch[0].bias.zero_()
    empty = filter_motifs(model, store, tmp_path / "none", max_pairs=20)
    assert empty.empty and list(pd.read_csv(tmp_path / "none" / "filters.tsv", sep="\t").columns) == \
        ["filter", "n_sites"]
    with torch.no_grad():
        model.enhancer_branch[0].weight[0] = torch.from_numpy(np.log2(motif.probs / 0.25)).float()
    table = filter_motifs(model, store, tmp_path / "one", max_pairs=20, top=2)
    assert table["filter"].tolist() == ["filter_0"] and table.loc[0, "n_sites"] > 0
    assert {"match1_jaspar_id", "match2_tf"} <= set(table.columns)
    assert "MOTIF filter_0" in (tmp_path / "one" / "filters.meme").read_text()
