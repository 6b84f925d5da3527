"""Variant-scoring throughput of epi-variants (issue 20).

Simulates a data set (``epi-simulate``), builds a pair model at ``--window`` bp (SIMCNN, random
weights: throughput does not depend on training) and an EPInformer over a gene store, and
times SNVs through

* the pair model with the element cache (:func:`epitools.variants.pair_effects.pair_effects`:
  partners embedded once, ALT windows once, ``forward_embedded`` per variant x pair);
* the pair model without it (the whole network on every REF and ALT pair);
* EPInformer (:func:`epitools.variants.gene_effects.gene_effects`).

Prints one JSON line: SNV x pair (or gene) scores per second for each.

    python bench/variant_throughput.py [--preset small] [--window 1000] [--snvs 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=int, default=1000, help="pair-model windows (bp)")
    parser.add_argument("--gene-window", type=int, default=128, help="EPInformer windows (bp)")
    parser.add_argument("--snvs", type=int, default=2000, help="SNVs drawn in enhancer/promoter windows")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)

    import pandas as pd
    import torch

    from epitools.data.gene_store import build_gene_store
    from epitools.data.simulate import SimulationConfig, simulate
    from epitools.io.checkpoint import make_checkpoint, save_checkpoint
    from epitools.io.genome import Genome
    from epitools.models.epinformer import EPInformer
    from epitools.models.simcnn import SIMCNN
    from epitools.training.predict import Predictor, score_pairs
    from epitools.variants.alleles import alt_windows
    from epitools.variants.gene_effects import gene_effects
    from epitools.variants.null import shuffled_snvs
    from epitools.variants.pair_effects import SIDES, pair_effects, pair_windows_index

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        sim = work / f"sim_{args.preset}_{args.seed}"
        if not (sim / "truth.json").exists():
            simulate(sim, seed=args.seed, config=SimulationConfig.preset(args.preset), overwrite=True)
        torch.manual_seed(args.seed)
        w = args.window
        save_checkpoint(make_checkpoint(SIMCNN(w, w, filters=64, kernel=11, pool=64, dense=64).eval(), "simcnn",
                                        "onehot"), work / "pair" / "model.pt")
        save_checkpoint(make_checkpoint(EPInformer(args.gene_window, args.gene_window).eval(), "epinformer",
                                        "onehot"), work / "genes" / "model.pt")
        store = work / f"genes_{args.gene_window}.h5"
        if not store.exists():
            build_gene_store(sim / "genes.tsv", sim / "elements.bed", sim / "genome.fa", store,
                             hic=sim / "hic.cool", promoter_length=args.gene_window, enhancer_length=args.gene_window)
        pairs = pd.read_csv(sim / "pairs.tsv", sep="\t")
        rng = np.random.default_rng(args.seed)
        result = {"bench": "variant_throughput", "preset": args.preset, "window": w,
                  "gene_window": args.gene_window, "threads": torch.get_num_threads()}
        with Genome(sim / "genome.fa") as genome:
            predictor = Predictor(work / "pair" / "model.pt", device="cpu")
            # SNVs at shuffled positions of the elements' windows
            anchors = pd.DataFrame({"chrom": pairs["enhancer_chrom"],
                                    "start": (pairs["enhancer_start"] + pairs["enhancer_end"]) // 2,
                                    "end": (pairs["enhancer_start"] + pairs["enhancer_end"]) // 2 + 1})
            snvs = shuffled_snvs(anchors.drop_duplicates().reset_index(drop=True), genome, args.snvs,
                                 w // 2 - 1, rng)
            index = pair_windows_index(pairs, genome, predictor.geometry)
            t0 = time.perf_counter()
            effects = pair_effects(predictor, snvs, pairs, genome, index)
            cached = time.perf_counter() - t0
            result["snv_pair_scores"] = int(len(effects))
            result["cached_scores_per_s"] = round(len(effects) / cached, 1)

            # without the cache: REF and ALT pair windows through the whole network
            t0 = time.perf_counter()
            codes = {}
            enh = effects["element"].to_numpy() == "enhancer"
            for side, length in zip(SIDES, (w, w)):
                chroms, starts, ids = index[side]
                win = ids[effects["pair_index"].to_numpy()] if "pair_index" in effects else ids[effects["pair"].to_numpy()]
                codes[side] = genome.fetch_windows(chroms[win], starts[win], length)
                mine = enh if side == "enhancer" else ~enh
                v = snvs.iloc[effects["variant"].to_numpy()[mine]]
                alt = alt_windows(genome, chroms[win[mine]], starts[win[mine]], v["start"].to_numpy() - starts[win[mine]],
                                  v["ref"].tolist(), v["alt"].tolist(), length)
                codes[f"{side}_alt"] = codes[side].copy()
                codes[f"{side}_alt"][mine] = alt
            score_pairs(predictor.model, codes["enhancer"], codes["promoter"], "onehot", element_cache=False)
            score_pairs(predictor.model, codes["enhancer_alt"], codes["promoter_alt"], "onehot", element_cache=False)
            uncached = time.perf_counter() - t0
            result["uncached_scores_per_s"] = round(len(effects) / uncached, 1)

            gene_predictor = Predictor(work / "genes" / "model.pt", device="cpu")
            t0 = time.perf_counter()
            gene_rows = gene_effects(gene_predictor.model, store, snvs, genome)
            result["epinformer_snv_gene_scores"] = int(len(gene_rows))
            result["epinformer_scores_per_s"] = round(len(gene_rows) / (time.perf_counter() - t0), 1)
        result["accepted"] = bool(w == 1000 and result["cached_scores_per_s"] >= 2000)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
