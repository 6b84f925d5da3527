"""TF-pair enrichment: FIMO presence, Fisher test, ranking, input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from epitools.data.encoding import decode_codes
from epitools.data.simulate_motifs import load_motif, sample_instances
from epitools.errors import InputError, UsageError
from epitools.interpret.jaspar import load_jaspar
from epitools.interpret.tf_pairs import fisher_greater, heatmap, read_regions, tf_pair_enrichment


def test_fisher_greater_matches_scipy():
    for a, b, c, d in [(8, 2, 1, 9), (3, 7, 3, 7), (0, 5, 4, 1)]:
        expected = fisher_exact([[a, b], [c, d]], alternative="greater")[1]
        assert np.isclose(fisher_greater([a], [b], [c], [d])[0], expected)


def _regions(n_pairs: int, side_motif: str, rule, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    motif = load_motif(side_motif)
    seqs = rng.choice(4, size=(n_pairs, 40), p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    rows = np.flatnonzero(rule)
    seqs[rows, 10:10 + motif.length] = sample_instances(motif, rows.size, 4.0, rng)
    return pd.DataFrame({"pair_id": [f"p{i}" for i in range(n_pairs)], "label": np.arange(n_pairs) % 2,
                         "sequence": [decode_codes(s) for s in seqs]})


def test_planted_pair_ranks_first(tmp_path):
    n = 60
    label = np.arange(n) % 2 == 1
    rng = np.random.default_rng(5)
    # Enhancer FOS::JUN and promoter NRF1 co-occur in interacting pairs; each alone anywhere.
    enh = _regions(n, "MA0099.4", label | (rng.random(n) < 0.3), 1)
    pro = _regions(n, "MA0506.3", label | (rng.random(n) < 0.3), 2)
    db = load_jaspar()
    db = db.subset([db.index(i) for i in ("MA0099.4", "MA0506.3", "MA0028.3", "MA0060.4", "MA0139.2")])
    table = tf_pair_enrichment(enh, pro, db)
    top = table.iloc[0]
    assert (top["enhancer_motif"], top["promoter_motif"]) == ("MA0099.4", "MA0506.3")
    assert top["pos_with"] >= 25 and top["q_value"] < 1e-3
    assert (table["q_value"] >= table["p_value"] - 1e-12).all()
    assert heatmap(table, tmp_path / "h.png").stat().st_size > 0


def test_inputs_checked(tmp_path):
    (tmp_path / "r.tsv").write_text("pair_id\tlabel\nx\t1\n")
    with pytest.raises(InputError, match="sequence"):
        read_regions(tmp_path / "r.tsv")
    one_class = pd.DataFrame({"pair_id": ["a", "b"], "label": [1, 1], "sequence": ["ACGT", "ACGT"]})
    with pytest.raises(UsageError, match="both"):
        tf_pair_enrichment(one_class, one_class, load_jaspar().subset([0]))


def test_write_tf_pairs_files_and_option_errors(tmp_path):
    from epitools.interpret.tf_pairs import jaspar_subset, write_tf_pairs

    n = 40
    label = np.arange(n) % 2 == 1
    for name, motif, seed in (("e.tsv", "MA0099.4", 1), ("p.tsv", "MA0506.3", 2)):
        _regions(n, motif, label, seed).to_csv(tmp_path / name, sep="\t", index=False)
    table = write_tf_pairs(tmp_path / "e.tsv", tmp_path / "p.tsv", tmp_path / "out",
                           motif_ids="MA0099.4, MA0506", min_pairs=2)
    assert (tmp_path / "out" / "tf_pairs.tsv").is_file() and (tmp_path / "out" / "tf_pairs.png").is_file()
    assert (table.iloc[0]["enhancer_motif"], table.iloc[0]["promoter_motif"]) == ("MA0099.4", "MA0506.3")
    assert len(jaspar_subset()) > 100
    with pytest.raises(UsageError, match="--motifs: MA9999.1 not in"):
        jaspar_subset("MA0099.4,MA9999.1")
    with pytest.raises(UsageError, match="--fimo-p-value"):
        write_tf_pairs(tmp_path / "e.tsv", tmp_path / "p.tsv", tmp_path / "out", threshold=0)
