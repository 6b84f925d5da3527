"""Does EPInformer's pre-trained sequence encoder see a motif-breaking SNV? (issue 20)

EPInformer's variant effects come only through its sequence encoder (its activity and Hi-C
inputs are measurements that a variant does not change), and the encoder is what
``pretrain_sequence_encoder`` fits to element activity. On an ``epi-simulate`` data set with
motif dosage (``--motif-copies-min``: activity scales with the intact planted copies, so a
copy-breaking variant lowers it), this script

* simulates the acceptance data set of ``tests/test_variants_acceptance.py`` with varied copies
  (and, with ``--pretrain-chroms N``, a second one of N chromosomes, another seed, to pre-train
  on more windows);
  or, with ``--library N``, pre-trains on the simulation's activity library of N windows
  (``epi-simulate --activity-library``: varied and broken copies, MPRA-like);
* pre-trains the encoder on ``1 - --held-out`` of the pre-training windows (``--epochs``);
* prints, as one JSON line: the fit and held-out Pearson r of predicted vs observed log activity,
  the mean observed and predicted log activity per copy number, and for the enhancer SNVs of
  ``truth.json`` (motif-breaking vs neutral) the AUROC of |Δ predicted activity| and the
  fraction of breaking SNVs with a negative Δ.

    OMP_NUM_THREADS=2 python bench/variant_encoder.py [--pretrain-chroms 40 | --library 20000 --epochs 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOW = 256


def _windows(sim: Path, prefix: str = "elements", genome_name: str = "genome.fa"):
    """Element table, (n, WINDOW) codes, the window start of each element and log activity
    (of ``prefix``.bed on ``genome_name``: the elements, or the activity library)."""
    import pandas as pd

    from epitools.data.windows import centered_starts, centred_windows
    from epitools.io.genome import Genome

    elements = pd.read_csv(sim / f"{prefix}.bed", sep="\t", header=None,
                           names=["chrom", "start", "end", "name", "dnase", "h3k27ac"])
    with Genome(sim / genome_name) as genome:
        codes = centred_windows(genome, elements["chrom"], elements["start"], elements["end"], WINDOW)[0]
    # not start minus the element's offset in its window: that offset is clipped to 0 for
    # elements longer than the window
    window_start = centered_starts(elements["start"], elements["end"], WINDOW)
    activity = np.log(np.sqrt(elements["dnase"] * elements["h3k27ac"])).to_numpy()
    return elements, codes, window_start, activity


def _predict(encoder, codes) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.cat([encoder(torch.as_tensor(codes[i:i + 512]))["prediction"]
                          for i in range(0, len(codes), 512)]).numpy()


def snv_effects(encoder, sim: Path, elements, codes, window_start):
    """Δ predicted activity (ALT - REF) of the enhancer SNVs of ``truth.json`` inside their
    element's window, and whether each is motif-breaking; shapes (v,), (v,)."""
    import pandas as pd

    variants = pd.DataFrame(json.loads((sim / "truth.json").read_text())["variants"])
    variants = variants[(variants["element"] == "enhancer") & (variants["kind"] == "snv")
                        & variants["class"].isin(["motif_breaking", "neutral"])]
    index = pd.Series(np.arange(len(elements)), index=elements["name"])
    rows = index.reindex(variants["element_id"]).to_numpy()
    known = ~np.isnan(rows)
    variants, rows = variants[known], rows[known].astype(np.int64)
    offset = variants["pos"].to_numpy() - 1 - window_start[rows]
    inside = (offset >= 0) & (offset < WINDOW)
    variants, rows, offset = variants[inside], rows[inside], offset[inside]
    alt = codes[rows].copy()
    alt[np.arange(len(rows)), offset] = np.searchsorted(np.array(list("ACGT")), variants["alt"].to_numpy())
    delta = _predict(encoder, alt) - _predict(encoder, codes[rows])
    return delta, (variants["class"] == "motif_breaking").to_numpy()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pretrain-chroms", type=int, default=0,
                        help="pre-train on a second simulation of this many 1 Mb chromosomes (0: on this one)")
    parser.add_argument("--library", type=int, default=0,
                        help="pre-train on an activity library of this many windows (0: on elements)")
    parser.add_argument("--held-out", type=float, default=0.2, help="fraction of pre-training windows held out")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)

    from epitools.data.simulate import SimulationConfig, simulate
    from epitools.models.epinformer_encoder import pretrain_sequence_encoder
    from epitools.training.metrics import auroc

    def config(n_chroms, library=0):
        return SimulationConfig.tiny(activity_library=library, n_chroms=n_chroms, chrom_size=1_000_000, n_genes=100 * n_chroms,
                                     negatives_per_positive=2, noise=0.0, motif_copies=3,
                                     inactive_fraction=0.3, motif_copies_min=1)

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        sim = work / f"dosage_{args.seed}_{args.library}"
        if not (sim / "truth.json").exists():
            simulate(sim, seed=args.seed, config=config(8, args.library), overwrite=True)
        elements, codes, window_start, activity = _windows(sim)
        source = sim
        if args.pretrain_chroms:
            source = work / f"dosage_{args.seed + 1}_{args.pretrain_chroms}"
            if not (source / "truth.json").exists():
                simulate(source, seed=args.seed + 1, config=config(args.pretrain_chroms), overwrite=True)
        if args.library:
            _, train_codes, _, train_activity = _windows(sim, "activity_library", "activity_library.fa")
        else:
            _, train_codes, _, train_activity = _windows(source)
        held = np.random.default_rng(0).random(len(train_activity)) < args.held_out
        t0 = time.perf_counter()
        encoder = pretrain_sequence_encoder(train_codes[~held], train_activity[~held], epochs=args.epochs,
                                            batch_size=128 if args.library else 64, seed=0)
        seconds = time.perf_counter() - t0
        fitted = _predict(encoder, train_codes)
        predicted = _predict(encoder, codes)
        copies = elements["name"].map(_copies(sim)).fillna(0).to_numpy(np.int64)
        delta, breaking = snv_effects(encoder, sim, elements, codes, window_start)
    result = {
        "pretrain_windows": int((~held).sum()), "pretrain_seconds": round(seconds, 1),
        "fit_r": round(float(np.corrcoef(fitted[~held], train_activity[~held])[0, 1]), 3),
        "held_out_r": round(float(np.corrcoef(fitted[held], train_activity[held])[0, 1]), 3),
        "by_copies": {int(c): {"n": int((copies == c).sum()), "observed": round(float(activity[copies == c].mean()), 3),
                               "predicted": round(float(predicted[copies == c].mean()), 3)}
                      for c in np.unique(copies)},
        "snvs": {"breaking": int(breaking.sum()), "neutral": int((~breaking).sum()),
                 "auroc_abs_delta": round(float(auroc(breaking, np.abs(delta))), 3),
                 "breaking_negative": round(float((delta[breaking] < 0).mean()), 3)},
    }
    if args.pretrain_chroms or args.library:
        result["elements_r"] = round(float(np.corrcoef(predicted, activity)[0, 1]), 3)
    print(json.dumps(result))
    return result


def _copies(sim: Path):
    import pandas as pd

    sites = pd.read_csv(sim / "motif_sites.tsv", sep="\t")
    return sites[sites["kind"] == "planted"].groupby("element_id").size()


if __name__ == "__main__":
    main()
