"""epi-simulate: determinism, planted truth, single-element uninformativeness, Hi-C and tracks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.simulate import main as simulate_cli
from epitools.data import simulate_motifs
from epitools.data.simulate import PAIR_COLUMNS, SimulationConfig, simulate

BED_ELEMENTS = ["chrom", "start", "end", "name", "dnase", "h3k27ac"]
LUT = np.full(256, 4, np.uint8)
LUT[np.frombuffer(b"ACGT", np.uint8)] = np.arange(4)


def _truth(d):
    return json.loads((d / "truth.json").read_text())


def _genome_codes(d):
    import pyfaidx

    fa = pyfaidx.Fasta(str(d / "genome.fa"))
    return {name: LUT[np.frombuffer(str(fa[name][:]).encode(), np.uint8)] for name in fa.keys()}


def _centred(genome, chroms, starts, ends, length):
    centre = (np.asarray(starts) + np.asarray(ends)) // 2
    out = np.full((len(centre), length), 4, np.uint8)
    for i, (c, m) in enumerate(zip(chroms, centre)):
        lo = max(m - length // 2, 0)
        seq = genome[c][lo:m + length // 2]
        out[i, lo - (m - length // 2): lo - (m - length // 2) + len(seq)] = seq
    return out


# --------------------------------------------------------------------------- files and formats
def test_outputs_open_with_standard_readers(simulated):
    import cooler
    import pyBigWig
    import pyfaidx

    truth = _truth(simulated)
    params = truth["parameters"]
    fa = pyfaidx.Fasta(str(simulated / "genome.fa"))
    assert list(fa.keys()) == [f"chr{i + 1}" for i in range(params["n_chroms"])]
    assert all(len(fa[c]) == params["chrom_size"] for c in fa.keys())
    seq = str(fa["chr1"][:]).upper()
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    assert abs(gc - params["gc"]) < 0.02
    sizes = pd.read_csv(simulated / "chrom.sizes", sep="\t", header=None)
    assert sizes[1].tolist() == [params["chrom_size"]] * params["n_chroms"]

    pairs = pd.read_csv(simulated / "pairs.tsv", sep="\t")
    assert list(pairs.columns) == PAIR_COLUMNS
    assert pairs["pair_id"].is_unique
    genes = pd.read_csv(simulated / "genes.tsv", sep="\t")
    assert {"gene", "chrom", "tss", "strand", "expression"} <= set(genes.columns)
    assert [f"hl_{i}" for i in range(1, 9)] == [c for c in genes.columns if c.startswith("hl_")]
    elements = pd.read_csv(simulated / "elements.bed", sep="\t", header=None, names=BED_ELEMENTS)
    assert (elements["dnase"] > 0).all() and (elements["h3k27ac"] > 0).all()

    clr = cooler.Cooler(str(simulated / "hic.cool"))
    assert clr.binsize == params["hic_resolution"]
    assert clr.chromnames == list(fa.keys())
    assert np.isfinite(clr.matrix(balance=True)[:10, :10]).any()
    listed = cooler.fileops.list_coolers(str(simulated / "hic.mcool"))
    assert listed == [f"/resolutions/{r}" for r in params["mcool_resolutions"]]

    for mark in ("dnase", "h3k27ac"):
        bw = pyBigWig.open(str(simulated / f"{mark}.bw"))
        assert bw.chroms() == {c: params["chrom_size"] for c in fa.keys()}
        graph = pd.read_csv(simulated / f"{mark}.bedGraph", sep="\t", header=None)
        row = graph.iloc[len(graph) // 2]
        assert bw.stats(row[0], int(row[1]), int(row[2]))[0] == pytest.approx(row[3], abs=1e-3)
        bw.close()


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    runner = CliRunner()
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        result = runner.invoke(simulate_cli, ["--out", str(tmp_path / name), "--preset", "tiny",
                                              "--seed", str(seed), "-q"])
        assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"hic.cool", "hic.mcool", "dnase.bw", "genome.fa", "truth.json"} <= set(files)
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "genome.fa").read_bytes() != (tmp_path / "c" / "genome.fa").read_bytes()


def test_cli_rejects_bad_input_without_partial_output(tmp_path):
    runner = CliRunner()
    out = tmp_path / "x"
    result = runner.invoke(simulate_cli, ["--out", str(out), "--preset", "tiny", "--n-genes", "500"])
    assert result.exit_code == 2 and "genes do not fit" in result.output
    assert not out.exists() and not list(tmp_path.iterdir())
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    result = runner.invoke(simulate_cli, ["--out", str(tmp_path / "full"), "--preset", "tiny"])
    assert result.exit_code == 2 and "not empty" in result.output
    assert (tmp_path / "full" / "keep.txt").exists()


# --------------------------------------------------------------------------- planted truth
def test_planted_motifs_sit_in_the_genome_at_recorded_positions(simulated):
    truth = _truth(simulated)
    genome = _genome_codes(simulated)
    sites = pd.read_csv(simulated / "motif_sites.tsv", sep="\t")
    motif_ids = {m["jaspar_id"] for side in ("enhancer", "promoter") for m in truth["motifs"][side]}
    assert set(sites["motif_id"]) == motif_ids and len(motif_ids) == 6
    for motif_id, group in sites.groupby("motif_id"):
        motif = simulate_motifs.load_motif(motif_id)
        windows = np.stack([genome[c][s:e] for c, s, e in zip(group["chrom"], group["start"], group["end"])])
        decoded = ["".join("ACGT"[x] for x in row) for row in windows]
        assert decoded == group["sequence"].tolist()
        scores = simulate_motifs.score_sites(motif, windows, group["strand"].to_numpy())
        assert np.allclose(scores, group["score"], atol=1e-2)
        planted = group["kind"] == "planted"
        # Sampled from a sharpened PWM: far above what random sequence of that length scores.
        assert np.median(scores[planted.to_numpy()]) > 0.6 * motif.log_odds().max(0).sum()

    # Each element's planted sites carry its recorded family, inside the element itself.
    enh = pd.read_csv(simulated / "enhancers.bed", sep="\t", header=None, names=["chrom", "start", "end", "name"])
    prom = pd.read_csv(simulated / "promoters.bed", sep="\t", header=None,
                       names=["chrom", "start", "end", "name", "score", "strand"])
    bounds = {r.name: (r.start, r.end) for r in pd.concat([enh, prom]).itertuples()}
    planted = sites[sites["kind"] == "planted"]
    fam = {**truth["element_families"]["enhancer"], **truth["element_families"]["promoter"]}
    assert (planted["family"] == planted["element_id"].map(fam)).all()
    # motif_copies non-overlapping copies per element (sorted by start within each element).
    per_element = planted.groupby("element_id")
    assert (per_element.size() == truth["parameters"]["motif_copies"]).all()
    ordered = planted.sort_values(["element_id", "start"])
    same = ordered["element_id"].to_numpy()[1:] == ordered["element_id"].to_numpy()[:-1]
    assert (ordered["start"].to_numpy()[1:][same] >= ordered["end"].to_numpy()[:-1][same]).all()
    lo = planted["element_id"].map(lambda e: bounds[e][0])
    hi = planted["element_id"].map(lambda e: bounds[e][1])
    assert ((planted["start"] >= lo) & (planted["end"] <= hi)).all()


def test_pairs_follow_the_grammar_and_are_distance_matched(simulated_small):
    truth = _truth(simulated_small)
    params = truth["parameters"]
    pairs = pd.read_csv(simulated_small / "pairs.tsv", sep="\t")
    fam_e, fam_p = truth["element_families"]["enhancer"], truth["element_families"]["promoter"]
    compatible = pairs["enhancer_id"].map(fam_e) == pairs["promoter_id"].map(fam_p)
    pos, neg = pairs[pairs["label"] == 1], pairs[pairs["label"] == 0]
    assert len(neg) == params["negatives_per_positive"] * len(pos)
    assert not compatible[pairs["label"] == 0].any()
    assert compatible[pairs["label"] == 1].mean() > 0.9
    inter = {(i["enhancer_id"], i["gene"]) for i in truth["interactions"]}
    assert set(zip(pos["enhancer_id"], pos["gene"])) == inter
    assert (pairs["enhancer_chrom"] == pairs["promoter_chrom"]).all()
    assert (pairs["distance"] <= params["max_distance"] + params["enhancer_length"][1]).all()
    q = [0.1, 0.5, 0.9]
    assert np.allclose(pos["distance"].quantile(q), neg["distance"].quantile(q), rtol=0.2)
    # Overlapping enhancers exist, so overlap leakage between splits is real.
    enh = pd.read_csv(simulated_small / "enhancers.bed", sep="\t", header=None,
                      names=["chrom", "start", "end", "name"])
    same_chrom = enh["chrom"].to_numpy()[1:] == enh["chrom"].to_numpy()[:-1]
    assert (same_chrom & (enh["start"].to_numpy()[1:] < enh["end"].to_numpy()[:-1])).sum() >= 10
    # Motifs sit inside the 3 kb / 2 kb windows the pair models encode.
    sites = pd.read_csv(simulated_small / "motif_sites.tsv", sep="\t").query("kind == 'planted'")
    centre = ((enh["start"] + enh["end"]) // 2).to_numpy()
    enh_centre = dict(zip(enh["name"], centre))
    on_enh = sites[sites["side"] == "enhancer"]
    offset = on_enh["start"].to_numpy() - on_enh["element_id"].map(enh_centre).to_numpy()
    assert np.abs(offset).max() < 1500


def _element_motif_counts(d, frame, which, length, motifs, threshold=10.0, core=400):
    genome = _genome_codes(d)
    uniq = frame.drop_duplicates(f"{which}_id")
    windows = _centred(genome, uniq[f"{which}_chrom"], uniq[f"{which}_start"], uniq[f"{which}_end"], length)
    mid = windows[:, length // 2 - core // 2: length // 2 + core // 2]
    counts = []
    for motif in motifs:
        lo = np.concatenate([motif.log_odds(), np.full((1, motif.length), -10.0)])
        rc = lo[[3, 2, 1, 0, 4]][:, ::-1]
        win = np.lib.stride_tricks.sliding_window_view(mid, motif.length, axis=1)
        cols = np.arange(motif.length)
        score = np.maximum(lo[win, cols].sum(-1), rc[win, cols].sum(-1))
        counts.append((score > threshold).sum(1))
    table = dict(zip(uniq[f"{which}_id"], np.stack(counts, 1)))
    return np.stack([table[x] for x in frame[f"{which}_id"]])


def test_single_elements_are_uninformative_only_the_pair_is(simulated_small):
    """Among active enhancers, one element's motif-family counts give AUROC ~0.5; only the
    pair combination scores well. Inactive candidates (no planted motif) are negatives only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    truth = _truth(simulated_small)
    pairs = pd.read_csv(simulated_small / "pairs.tsv", sep="\t")
    enh_motifs = [simulate_motifs.load_motif(m["jaspar_id"]) for m in truth["motifs"]["enhancer"]]
    prom_motifs = [simulate_motifs.load_motif(m["jaspar_id"]) for m in truth["motifs"]["promoter"]]
    x_enh = _element_motif_counts(simulated_small, pairs, "enhancer", 3000, enh_motifs)
    x_prom = _element_motif_counts(simulated_small, pairs, "promoter", 2000, prom_motifs)
    y = pairs["label"].to_numpy()

    def cv_auroc(x):
        # Held-out chromosomes: nothing about a specific element can be memorised.
        score = cross_val_predict(LogisticRegression(max_iter=1000), x, y, cv=GroupKFold(3),
                                  groups=pairs["enhancer_chrom"], method="predict_proba")[:, 1]
        return roc_auc_score(y, score)

    def expand(x):  # counts plus pairwise products within the block: a richer single-element model
        return np.hstack([x, (x[:, :, None] * x[:, None, :]).reshape(len(x), -1)])

    fam = pairs["enhancer_id"].map(truth["element_families"]["enhancer"]).to_numpy()
    assert (fam[y == 1] >= 0).all() and (fam[y == 0] < 0).mean() > 0.2
    enhancer_only = cv_auroc(expand(x_enh))
    assert abs(cv_auroc(expand(x_prom)) - 0.5) < 0.08
    cross = (x_enh[:, :, None] * x_prom[:, None, :]).reshape(len(y), -1)
    assert cv_auroc(np.hstack([x_enh, x_prom, cross])) > max(0.9, enhancer_only + 0.15)
    active = fam >= 0
    pairs, x_enh, x_prom, y = pairs[active], x_enh[active], x_prom[active], y[active]
    assert abs(cv_auroc(expand(x_enh)) - 0.5) < 0.08


# --------------------------------------------------------------------------- Hi-C, genes
def test_hic_decays_as_a_power_law_with_interacting_pairs_enriched(simulated_small):
    import cooler

    truth = _truth(simulated_small)
    params = truth["parameters"]
    clr = cooler.Cooler(str(simulated_small / "hic.cool"))
    pix = clr.pixels()[:]
    bins = clr.bins()[:]
    sep = (pix["bin2_id"] - pix["bin1_id"]).to_numpy()
    n_chrom_bins = bins.groupby("chrom", observed=True).size().iloc[0]
    sums = np.bincount(sep, weights=pix["count"], minlength=n_chrom_bins)
    per_diag = sums / (clr.info["nbins"] - np.arange(len(sums)) * len(clr.chromnames))[: len(sums)]
    d = np.arange(1, 40)
    slope = np.polyfit(np.log(d), np.log(per_diag[d]), 1)[0]
    assert slope == pytest.approx(-params["hic_alpha"], abs=0.15)

    genes = pd.read_csv(simulated_small / "genes.tsv", sep="\t").set_index("gene")
    enh = pd.read_csv(simulated_small / "enhancers.bed", sep="\t", header=None,
                      names=["chrom", "start", "end", "name"]).set_index("name")
    res = clr.binsize
    ratios = []
    for it in truth["interactions"]:
        chrom = genes.loc[it["gene"], "chrom"]
        a = (enh.loc[it["enhancer_id"], "start"] + enh.loc[it["enhancer_id"], "end"]) // 2 // res
        b = genes.loc[it["gene"], "tss"] // res
        lo, hi = sorted((a, b))
        observed = clr.matrix(balance=False).fetch(f"{chrom}:{lo * res}-{lo * res + res}",
                                                   f"{chrom}:{hi * res}-{hi * res + res}")[0, 0]
        ratios.append(observed / per_diag[hi - lo])
    assert np.median(ratios) > 2.5


def test_expression_follows_planted_drivers_and_abc_beats_distance(simulated_small):
    import cooler
    from sklearn.metrics import average_precision_score

    truth = _truth(simulated_small)
    genes = pd.read_csv(simulated_small / "genes.tsv", sep="\t")
    model = truth["expression_model"]
    elements = pd.read_csv(simulated_small / "elements.bed", sep="\t", header=None, names=BED_ELEMENTS)
    elements["centre"] = (elements["start"] + elements["end"]) // 2
    clr = cooler.Cooler(str(simulated_small / "hic.cool"))
    res = clr.binsize

    driven = [g for g in genes["gene"] if truth["genes"][g]["drivers"]]
    assert 0.5 * len(genes) < len(driven) < len(genes)
    effects = [d["effect"] for g in driven for d in truth["genes"][g]["drivers"]]
    assert min(effects) > 0
    # Linear, TPM-like expression (what epi-encode genes log1p-transforms), typically 1-1000.
    expr = genes.set_index("gene")["expression"]
    assert (expr >= 0).all() and 1 < expr.median() < 1000 and expr.max() > 100
    log_expr = np.log1p(expr)
    assert log_expr[driven].mean() > log_expr.drop(driven).mean() + 1.0
    # A driver's effect is the noise-free drop in log1p(TPM): removing a gene's sole driver
    # leaves the baseline, log1p(scale * baseline * exp(half-life effects)), up to noise.
    hl = genes.set_index("gene")[[f"hl_{i}" for i in range(1, 9)]].to_numpy() @ model["half_life_weights"]
    floor = pd.Series(np.log1p(model["scale"] * model["baseline"] * np.exp(hl)), index=expr.index)
    sole = [(g, truth["genes"][g]["drivers"][0]["effect"]) for g in driven
            if len(truth["genes"][g]["drivers"]) == 1]
    residual = np.array([log_expr[g] - effect - floor[g] for g, effect in sole])
    assert len(sole) > 5 and np.median(np.abs(residual)) < 2 * model["noise"]
    assert "log1p" in model["effect"]

    labels, abc, closeness = [], [], []
    for g in genes.itertuples():
        near = elements[(elements["chrom"] == g.chrom) & ((elements["centre"] - g.tss).abs() <= 100_000)]
        drivers = {d["enhancer_id"] for d in truth["genes"][g.gene]["drivers"]}
        mat = clr.matrix(balance=False, sparse=True).fetch(g.chrom).tocsr()
        eb, gb = near["centre"].to_numpy() // res, g.tss // res
        contact = np.asarray(mat[np.minimum(eb, gb), np.maximum(eb, gb)]).ravel()
        score = np.sqrt(near["dnase"] * near["h3k27ac"]).to_numpy() * contact
        labels.append(near["name"].isin(drivers).to_numpy())
        abc.append(score / max(score.sum(), 1e-9))
        closeness.append(-(near["centre"] - g.tss).abs().to_numpy())
    labels, abc, closeness = map(np.concatenate, (labels, abc, closeness))
    assert labels.sum() == sum(len(truth["genes"][g]["drivers"]) for g in driven)
    assert average_precision_score(labels, abc) > 2 * average_precision_score(labels, closeness)
    assert model["cell_type"] == truth["parameters"]["cell_types"][0]


def test_difficulty_and_cell_type_parameters_take_effect(tmp_path):
    config = SimulationConfig.tiny(unclean_fraction=0.5, cell_types=("K562", "GM12878"))
    summary = simulate(tmp_path / "sim", seed=1, config=config)
    assert set(summary["pairs"]) == {"K562", "GM12878"}
    truth = _truth(tmp_path / "sim")
    inter = pd.DataFrame(truth["interactions"])
    assert 0.25 < 1 - inter["clean"].mean() < 0.75
    by_type = {ct: set(zip(g["enhancer_id"], g["gene"])) for ct, g in inter.groupby("cell_type")}
    assert by_type["K562"] != by_type["GM12878"] and by_type["K562"] & by_type["GM12878"]
    pairs = pd.read_csv(tmp_path / "sim" / "pairs.tsv", sep="\t")
    assert set(pairs["cell_type"]) == {"K562", "GM12878"}
    assert truth["parameters"]["unclean_fraction"] == 0.5 and truth["seed"] == 1


def test_motif_dosage_varies_copies_and_scales_activity(tmp_path):
    # epi-simulate --motif-copies-min: each bound element carries 1-3 copies and its activity
    # (hence DNase/H3K27ac) follows the copy number, so breaking a copy has a planted effect.
    result = CliRunner().invoke(simulate_cli, ["--out", str(tmp_path / "sim"), "--seed", "2", "--preset", "tiny",
                                               "--n-genes", "60", "--motif-copies", "3", "--motif-copies-min", "1",
                                               "--noise", "0", "--inactive-fraction", "0"])
    assert result.exit_code == 0, result.output
    truth = _truth(tmp_path / "sim")
    assert truth["parameters"]["motif_copies_min"] == 1
    sites = pd.read_csv(tmp_path / "sim" / "motif_sites.tsv", sep="\t")
    copies = sites[sites["kind"] == "planted"].groupby("element_id").size()
    assert set(copies) == {1, 2, 3}
    elements = pd.read_csv(tmp_path / "sim" / "elements.bed", sep="\t", header=None,
                           names=["chrom", "start", "end", "name", "dnase", "h3k27ac"])
    drivers = {d["enhancer_id"] for g in truth["genes"].values() for d in g["drivers"]}
    plain = elements[elements["name"].isin(copies.index) & ~elements["name"].isin(drivers)]
    activity = np.log(plain["dnase"] * plain["h3k27ac"]) / 2
    by_copies = activity.groupby(plain["name"].map(copies).to_numpy()).mean()
    # log(n/3) apart on average: -1.10, -0.41, 0 (draws with sd 0.5 and track noise around them)
    assert by_copies[1] < by_copies[2] < by_copies[3]
    assert 0.7 < by_copies[3] - by_copies[1] < 1.5


def test_compatible_drivers_are_the_bound_candidates_of_the_gene_family(tmp_path):
    # epi-simulate --drivers compatible: a gene's drivers follow from sequence (its promoter's
    # motif family and its candidates' families), not from a draw, so expression does too.
    result = CliRunner().invoke(simulate_cli, ["--out", str(tmp_path / "sim"), "--seed", "3", "--preset", "tiny",
                                               "--n-genes", "40", "--drivers", "compatible"])
    assert result.exit_code == 0, result.output
    truth = _truth(tmp_path / "sim")
    assert truth["parameters"]["drivers"] == "compatible"
    genes = pd.read_csv(tmp_path / "sim" / "genes.tsv", sep="\t")
    elements = pd.read_csv(tmp_path / "sim" / "elements.bed", sep="\t", header=None, names=BED_ELEMENTS)
    family = truth["element_families"]
    elements["family"] = elements["name"].map(family["enhancer"])
    centre = ((elements["start"] + elements["end"]) // 2).to_numpy()
    lo, hi = truth["parameters"]["min_distance"], truth["parameters"]["max_distance"]
    expected = set()
    for g in genes.itertuples():
        d = np.abs(centre - g.tss)
        near = (elements["chrom"] == g.chrom).to_numpy() & (d >= lo) & (d <= hi)
        expected |= {(g.gene, e) for e in elements.loc[near & (elements["family"] == family["promoter"][g.promoter_id]),
                                                      "name"]}
    planted = {(i["gene"], i["enhancer_id"]) for i in truth["interactions"]}
    assert all(i["clean"] for i in truth["interactions"])
    # siblings follow their parent and a gene keeps its 60 nearest candidates, so not every
    # compatible call within range drives; with drivers drawn, about a sixth would
    assert len(planted & expected) >= 0.9 * len(expected) and len(planted - expected) <= 0.05 * len(planted)
    assert all(truth["genes"][g]["drivers"] for g, _ in expected)


def test_motif_copies_min_must_not_exceed_motif_copies(tmp_path):
    result = CliRunner().invoke(simulate_cli, ["--out", str(tmp_path / "sim"), "--preset", "tiny",
                                               "--motif-copies", "2", "--motif-copies-min", "3"])
    assert result.exit_code == 2 and "motif_copies_min" in result.output
    assert not (tmp_path / "sim").exists()


def test_activity_library_varies_and_breaks_copies_and_activity_follows_the_intact_ones(tmp_path):
    # epi-simulate --activity-library: windows for EPInformer's encoder pre-training in which
    # a copy broken by one base counts as lost, as a motif-breaking variant's copy does
    out = tmp_path / "sim"
    result = CliRunner().invoke(simulate_cli, ["--out", str(out), "--seed", "3", "--preset", "tiny",
                                               "--motif-copies", "3", "--activity-library", "2000"])
    assert result.exit_code == 0, result.output
    assert _truth(out)["parameters"]["activity_library"] == 2000
    bed = pd.read_csv(out / "activity_library.bed", sep="\t", header=None, names=BED_ELEMENTS)
    sites = pd.read_csv(out / "activity_library_sites.tsv", sep="\t")
    assert len(bed) == len(sites) == 2004  # a whole number of windows per library chromosome
    assert ((bed["end"] - bed["start"]) == 256).all() and bed["name"].is_unique
    assert set(bed["chrom"]) == {f"chr{i}" for i in range(1, 13)}  # its own contigs: chrom12 folds split it
    unbound = sites["family"] == -1
    assert 0.2 < unbound.mean() < 0.4 and (sites.loc[unbound, "copies"] == 0).all()
    assert set(sites.loc[~unbound, "copies"]) == {1, 2, 3}
    assert (sites["intact"] <= sites["copies"]).all()
    broken = (sites["copies"] - sites["intact"]).sum() / sites["copies"].sum()
    assert 0.25 < broken < 0.35

    activity = np.log(bed["dnase"] * bed["h3k27ac"]) / 2
    by_intact = activity[~unbound].groupby(sites.loc[~unbound, "intact"].to_numpy()).mean()
    # log(intact/3) on average; no intact copy reads as unbound (log 0.25)
    assert by_intact[1] < by_intact[2] < by_intact[3]
    assert abs(by_intact[0] - activity[unbound].mean()) < 0.15

    # a broken copy scores below an intact one: its one changed base sits in an informative column
    import pyfaidx

    fa = pyfaidx.Fasta(str(out / "activity_library.fa"))
    motifs = {m.jaspar_id: m for m in simulate_motifs.load_motifs(
        list(simulate_motifs.ENHANCER_MOTIFS) + list(simulate_motifs.PROMOTER_MOTIFS))}
    single = sites[sites["copies"] == 1]
    for motif_id, rows in single.groupby("motif_id"):
        codes = np.stack([LUT[np.frombuffer(str(fa[c][s:e]).encode(), np.uint8)]
                          for c, s, e in bed.loc[rows.index, ["chrom", "start", "end"]].itertuples(index=False)])
        scores = simulate_motifs.max_scores(motifs[motif_id], codes)
        intact = rows["intact"].to_numpy() == 1
        assert scores[~intact].mean() < scores[intact].mean() - 2, motif_id


def test_activity_library_is_an_epi_encode_activity_input(tmp_path):
    from epitools.cli.encode import main as encode_cli

    out = tmp_path / "sim"
    simulate(out, seed=0, config=SimulationConfig.tiny(activity_library=48))
    result = CliRunner().invoke(encode_cli, ["activity", "--elements", str(out / "activity_library.bed"),
                                             "--genome", str(out / "activity_library.fa"),
                                             "--out", str(tmp_path / "activity.h5")])
    assert result.exit_code == 0, result.output
    import h5py

    with h5py.File(tmp_path / "activity.h5") as h5:
        assert h5["sequence"].shape == (96, 256)  # with the reverse complements


def test_no_activity_library_by_default(simulated):
    assert not list(simulated.glob("activity_library*"))
