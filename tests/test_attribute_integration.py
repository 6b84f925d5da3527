"""End to end: train a small model on planted JASPAR motifs, attribute, TF-MoDISco, Tomtom,
tracks and TF-pair enrichment through the ``epi-attribute`` CLI.

The first tests plant sampled instances of two JASPAR motifs (enhancer FOS::JUN, promoter
NRF1) so that a pair interacts when both are present; the ``simulated`` tests run the same
chain on ``epi-simulate`` data and check every planted motif, site and TF pair of
``truth.json``.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pyBigWig
import pytest
from click.testing import CliRunner

from epitools.cli.attribute import main as attribute
from epitools.data.encoding import reverse_complement
from epitools.data.simulate_motifs import load_motif, sample_instances
from epitools.interpret.jaspar import load_jaspar, same_tf
from epitools.io.store import StoreWriter

ENHANCER_ID, PROMOTER_ID = "MA0099.4", "MA0506.3"  # FOS::JUN, NRF1
LENGTH = 100


def jaspar_store(path, n: int = 360, seed: int = 0, length: int = LENGTH) -> dict:
    """A pair store where label 1 = FOS::JUN in the enhancer and NRF1 in the promoter.

    Negatives carry one of the two motifs or neither. Returns the planted positions and
    chromosome sizes.
    """
    rng = np.random.default_rng(seed)
    label = (np.arange(n) % 2).astype(np.int8)
    enh = rng.choice(4, size=(n, length), p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    pro = rng.choice(4, size=(n, length), p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    kind = np.where(label == 1, 3, rng.integers(0, 3, n))  # bit 0: enhancer motif, bit 1: promoter
    planted = {}
    for side, codes, motif_id, bit in (("enhancer", enh, ENHANCER_ID, 1), ("promoter", pro, PROMOTER_ID, 2)):
        motif = load_motif(motif_id)
        rows = np.flatnonzero(kind & bit)
        inst = sample_instances(motif, rows.size, 3.0, rng)
        minus = rng.random(rows.size) < 0.5
        inst[minus] = reverse_complement(inst[minus])
        pos = rng.integers(10, length - motif.length - 10, rows.size)
        codes[rows[:, None], pos[:, None] + np.arange(motif.length)] = inst
        planted[side] = {"rows": rows, "pos": pos, "length": motif.length}
    chrom = np.array([f"chr{i % 3 + 1}" for i in range(n)], dtype=object)
    start = (np.arange(n) // 3) * 1000 + 500
    pairs = pd.DataFrame({"enhancer_chrom": chrom, "enhancer_start": start, "enhancer_end": start + length,
                          "promoter_chrom": chrom, "promoter_start": start + 400,
                          "promoter_end": start + 400 + length, "cell_type": "A"})
    rows = {"enhancer": enh, "promoter": pro, "label": label,
            "pair_id": np.array([f"p{i}" for i in range(n)], dtype=object),
            "source_row": np.arange(n), "enhancer_shift": np.zeros(n, np.int32),
            "promoter_shift": np.zeros(n, np.int32), "reverse_complement": np.zeros(n, bool),
            "enhancer_element": np.tile([0, length], (n, 1)).astype(np.int32),
            "promoter_element": np.tile([0, length], (n, 1)).astype(np.int32)}
    with h5py.File(path, "w") as h5:
        StoreWriter(h5, {"encoding": "onehot", "k": 0, "enhancer_length": length,
                         "promoter_length": length}).append(rows, pairs)
    sizes = {f"chr{i + 1}": int(start.max()) + 2000 for i in range(3)}
    return {"planted": planted, "chrom_sizes": sizes, "start": start}


def _train(store, out, epochs: int = 12):
    from epitools.training.loop import TrainConfig, train

    hparams = dict(filters=16, kernel=15, pool=LENGTH - 14, dense=32)
    result = train(TrainConfig(data=str(store), model="simcnn", out=str(out), split="random", folds=5,
                               fold=1, epochs=epochs, batch_size=32, lr=1e-2, hparams=hparams,
                               patience=epochs, seed=0))
    return result


def _recovered(motifs_tsv, jaspar_id: str) -> bool:
    """A pattern whose best or second-best match (q < 0.05) is ``jaspar_id`` or the same TF.

    "Same TF" = a shared factor name (FOS::JUN ~ JUN) or JASPAR TF family (FOS::JUN ~ JUND,
    both Jun-related): paralogs bind one site, and Tomtom cannot tell them apart.
    """
    db = load_jaspar()
    tf = db.names[db.index(jaspar_id)]
    table = pd.read_csv(motifs_tsv, sep="\t")
    for r in (1, 2):
        ids = table[f"match{r}_id"].astype(str)
        hit = ((ids.str.split(".").str[0] == jaspar_id.split(".")[0])
               | table[f"match{r}_tf"].astype(str).map(lambda name: same_tf(name, tf))
               | ids.map(lambda i: i in db.ids and db.same_family(i, jaspar_id)))
        if (hit & (table[f"match{r}_q"] < 0.05)).any():
            return True
    return False


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("attr_int")
    info = jaspar_store(root / "store.h5")
    result = _train(root / "store.h5", root / "run")
    sizes = root / "chrom.sizes"
    sizes.write_text("".join(f"{c}\t{s}\n" for c, s in info["chrom_sizes"].items()))
    return {"root": root, "store": root / "store.h5", "model": root / "run" / "model.pt", "sizes": sizes,
            "info": info, "result": result}


def _run(args):
    res = CliRunner().invoke(attribute, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def test_planted_motifs_recovered_and_tracks(trained):
    assert trained["result"]["auroc"] > 0.8  # the model learned the planted rule
    root = trained["root"]
    for element, motif_id in (("enhancer", ENHANCER_ID), ("promoter", PROMOTER_ID)):
        out = root / f"attr_{element}"
        _run(["scores", "--model", trained["model"], "--data", trained["store"], "--out", out,
              "--element", element, "--n-shuffles", 5, "--max-pairs", 150, "-q"])
        _run(["motifs", "--attributions", out / "attributions.npz", "--out", out / "motifs",
              "--min-metacluster-size", 20, "--final-min-cluster-size", 10, "-q"])
        assert (out / "motifs" / "modisco.h5").is_file() and (out / "motifs" / "motifs.html").is_file()
        assert list((out / "motifs" / "logos").glob("*.png"))
        assert _recovered(out / "motifs" / "motifs.tsv", motif_id), \
            (out / "motifs" / "motifs.tsv").read_text()

        _run(["tracks", "--attributions", out / "attributions.npz", "--chrom-sizes", trained["sizes"],
              "--out", out / "tracks", "-q"])
        attr = np.load(out / "attributions.npz")
        planted = trained["info"]["planted"][element]
        where = dict(zip(planted["rows"], planted["pos"]))
        bw = pyBigWig.open(str(out / "tracks" / f"{element}_attribution.bw"))
        above = []
        for row, chrom, win in zip(attr["index"], attr["chrom"], attr["window_start"]):
            if row not in where:
                continue
            window = np.array(bw.values(str(chrom), int(win), int(win) + LENGTH))
            site = window[where[row]:where[row] + planted["length"]]
            above.append(site.mean() > np.median(window))
        bw.close()
        assert len(above) > 50 and np.mean(above) > 0.9
        regions = pd.read_csv(out / "tracks" / f"{element}_top_regions.tsv", sep="\t")
        # 100-bp windows hold two non-overlapping 45-bp regions; the default asks for five.
        assert set(regions["rank"]) == {1, 2} and regions["sequence"].str.len().eq(45).all()


def test_filters_matched_to_jaspar(trained, tmp_path):
    out = tmp_path / "attr"
    _run(["scores", "--model", trained["model"], "--data", trained["store"], "--out", out,
          "--method", "ism", "--max-pairs", 8, "-q"])
    data = np.load(out / "attributions.npz")
    assert data["hyp_scores"].shape == (8, 4, LENGTH)
    # The motifs step on ISM output also extracts the filters of the model.
    db = load_jaspar()
    from epitools.interpret.motifs import filter_ppms, match_motifs
    from epitools.io.checkpoint import load_checkpoint
    from epitools.models.registry import model_from_checkpoint
    from epitools.io.store import PairStore

    model = model_from_checkpoint(load_checkpoint(trained["model"]))
    with PairStore(trained["store"]) as store:
        codes = store.read(np.arange(200), fields=["enhancer"])["enhancer"]
    result = filter_ppms(model, codes)
    used = [i for i, n in enumerate(result["n_sites"]) if n > 0]
    matches = match_motifs([result["ppms"][i] for i in used], [result["names"][i] for i in used], db, top=2)
    fos = db.names[db.index(ENHANCER_ID)]
    # as in _recovered: the TF or a paralog of its JASPAR family (JDP2, JUND... bind the same site)
    assert (matches["tf"].map(lambda t: same_tf(t, fos) or "JUN" in t or "FOS" in t)
            | matches["jaspar_id"].map(lambda i: db.same_family(i, ENHANCER_ID))).any(), matches


def test_tf_pairs_puts_planted_pair_first(trained):
    root = trained["root"]
    for element in ("enhancer", "promoter"):
        out = root / f"tfp_{element}"
        _run(["scores", "--model", trained["model"], "--data", trained["store"], "--out", out,
              "--element", element, "--n-shuffles", 3, "--rows", "all", "-q"])
        _run(["tracks", "--attributions", out / "attributions.npz", "--chrom-sizes", trained["sizes"],
              "--out", out, "--n-regions", 1, "--width", 30, "-q"])
    ids = f"{ENHANCER_ID},{PROMOTER_ID},MA0506.3,MA0028.3,MA0060.4,MA1494.2,MA0466.4,MA0139.2"
    _run(["tf-pairs", "--enhancer-regions", root / "tfp_enhancer" / "enhancer_top_regions.tsv",
          "--promoter-regions", root / "tfp_promoter" / "promoter_top_regions.tsv", "--motifs", ids,
          "--out", root / "tfp", "-q"])
    table = pd.read_csv(root / "tfp" / "tf_pairs.tsv", sep="\t")
    assert (table.iloc[0]["enhancer_motif"], table.iloc[0]["promoter_motif"]) == (ENHANCER_ID, PROMOTER_ID)
    assert table.iloc[0]["q_value"] < 0.05
    assert (root / "tfp" / "tf_pairs.png").stat().st_size > 0


# The test profile's simulation (conf/test.config): 256-bp windows hold every planted copy,
# and with 1:2 negatives and no decoys a small SIMCNN learns the grammar in 16 epochs on CPU.
SIM_WINDOW = 256


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """epi-simulate → 256-bp store → SIMCNN (chromosome split) → attributions of both elements."""
    from epitools.data.simulate import SimulationConfig, simulate
    from epitools.data.pair_store import build_pair_store
    from epitools.training.loop import TrainConfig, train

    root = tmp_path_factory.mktemp("attr_sim")
    cfg = SimulationConfig.tiny(n_chroms=8, chrom_size=1_000_000, n_genes=800, negatives_per_positive=2,
                                noise=0.0, motif_copies=3, inactive_fraction=0.0)
    simulate(root / "sim", seed=1, config=cfg)
    build_pair_store(root / "sim" / "pairs.tsv", root / "store.h5", root / "sim" / "genome.fa",
                     enhancer_length=SIM_WINDOW, promoter_length=SIM_WINDOW)
    result = train(TrainConfig(data=str(root / "store.h5"), model="simcnn", out=str(root / "run"),
                               split="chrom", folds=8, fold=1, epochs=16, batch_size=32, lr=2e-3,
                               patience=16, seed=0,
                               hparams=dict(filters=64, kernel=11, pool=64, dense=64, dropout=0.0)))
    for element in ("enhancer", "promoter"):
        out = root / element
        # Both classes: TF-pair enrichment contrasts interacting with non-interacting pairs.
        _run(["scores", "--model", root / "run" / "model.pt", "--data", root / "store.h5", "--out", out,
              "--element", element, "--rows", "all", "--max-pairs", 1000, "--n-shuffles", 5, "-q"])
        _run(["tracks", "--attributions", out / "attributions.npz", "--chrom-sizes", root / "sim" / "chrom.sizes",
              "--out", out, "--n-regions", 1, "--width", 30, "-q"])
    return {"root": root, "result": result, "truth": json.loads((root / "sim" / "truth.json").read_text()),
            "sites": pd.read_csv(root / "sim" / "motif_sites.tsv", sep="\t")}


def test_simulated_truth_motifs_recovered(simulated):
    """Every planted motif of truth.json comes back from TF-MoDISco + Tomtom (q < 0.05)."""
    assert simulated["result"]["auroc"] > 0.9  # the model learned the grammar
    for element in ("enhancer", "promoter"):
        out = simulated["root"] / element
        # 600 seqlets per metacluster recover all six motifs (measured) in half the time of 2000.
        _run(["motifs", "--attributions", out / "attributions.npz", "--out", out / "motifs", "-q",
              "--min-metacluster-size", 20, "--final-min-cluster-size", 10, "--max-seqlets", 600])
        for motif in simulated["truth"]["motifs"][element]:
            assert _recovered(out / "motifs" / "motifs.tsv", motif["jaspar_id"]), \
                (motif["name"], (out / "motifs" / "motifs.tsv").read_text())


def test_simulated_tracks_peak_at_planted_sites(simulated, tmp_path):
    """Tracks of interacting pairs (``scores``' default rows): a planted site of each window
    scores above the window's median.

    Not every copy: SIMCNN max-pools 64 bp, so of two copies in one pool only the stronger
    gets credit. The fixture explained both classes; its positive rows are what ``scores``
    writes by default, and overlapping windows of both classes would average in the track.
    """
    for element in ("enhancer", "promoter"):
        with np.load(simulated["root"] / element / "attributions.npz") as data:
            keep = data["label"] == 1
            arrays = {k: (v[keep] if v.ndim and v.shape[0] == keep.size else v)
                      for k, v in ((k, data[k]) for k in data.files)}
        out = tmp_path / element
        out.mkdir()
        np.savez(out / "attributions.npz", **arrays)
        _run(["tracks", "--attributions", out / "attributions.npz",
              "--chrom-sizes", simulated["root"] / "sim" / "chrom.sizes", "--out", out, "-q"])
        sites = simulated["sites"].query("kind == 'planted' and side == @element")
        by_chrom = {c: g for c, g in sites.groupby("chrom")}
        bw = pyBigWig.open(str(out / f"{element}_attribution.bw"))
        above = []
        for chrom, win in zip(arrays["chrom"], arrays["window_start"]):
            inside = by_chrom[str(chrom)].query("start >= @win and end <= @win + @SIM_WINDOW")
            if inside.empty:
                continue
            window = np.array(bw.values(str(chrom), int(win), int(win) + SIM_WINDOW))
            above.append(max(window[a - win:b - win].mean() for a, b in zip(inside["start"], inside["end"]))
                         > np.median(window))
        bw.close()
        assert len(above) > 100 and np.mean(above) > 0.9, (element, len(above), np.mean(above))


def test_simulated_grammar_pairs_rank_first(simulated):
    """tf_pairs.tsv ranks the planted enhancer-TF x promoter-TF pairs of truth.json first."""
    root = simulated["root"]
    grammar = {(g["enhancer_motif"], g["promoter_motif"]) for g in simulated["truth"]["grammar"]}
    planted = [m["jaspar_id"] for side in ("enhancer", "promoter") for m in simulated["truth"]["motifs"][side]]
    ids = ",".join(planted + ["MA0139.2", "MA0079.5"])  # CTCF and SP1: unplanted controls
    _run(["tf-pairs", "--enhancer-regions", root / "enhancer" / "enhancer_top_regions.tsv",
          "--promoter-regions", root / "promoter" / "promoter_top_regions.tsv", "--motifs", ids,
          "--out", root / "tfp", "-q"])
    table = pd.read_csv(root / "tfp" / "tf_pairs.tsv", sep="\t")
    top = table.head(len(grammar))
    assert set(zip(top["enhancer_motif"], top["promoter_motif"])) == grammar, table.head(6)
    assert (top["q_value"] < 0.05).all()
