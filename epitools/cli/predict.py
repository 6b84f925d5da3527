"""``epi-predict``: score pairs (or genes) with a trained checkpoint."""

from __future__ import annotations

import click

from epitools.cli._common import command, out_option
from epitools.errors import UsageError


@command(help="Score pairs with a checkpoint from epi-train: an encoded store (--data) or a pair "
              "table encoded on the fly (--pairs with --genome, streamed in chunks). Writes the input "
              "table plus score, model and fold. Each distinct element window of a --pairs table is "
              "embedded once (element cache; of a store, once per chunk) unless --no-element-cache.")
@click.option("--model", "checkpoint", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint (model.pt).")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help="Encoded store (.h5) of pairs, or of genes for EPInformer.")
@click.option("--pairs", type=click.Path(exists=True, dir_okay=False),
              help="Pair table (TSV/BEDPE/...) to encode on the fly.")
@click.option("--genome", type=click.Path(exists=True, dir_okay=False),
              help="Genome FASTA or 2bit for --pairs (not needed with inline sequences).")
@click.option("--chunk-size", type=int, default=8192, help="Pairs encoded and scored at a time.")
@click.option("--batch-size", type=int, default=256, help="Pairs per forward pass.")
@click.option("--all-rows", is_flag=True, help="With --data: also score augmented copies.")
@click.option("--no-element-cache", is_flag=True, help="Run the whole network on every pair.")
@click.option("--cache-mb", type=click.FloatRange(min=1), default=2048,
              help="Memory for element embeddings (MiB); beyond it they are memory-mapped from disk.")
@click.option("--cache-dir", type=click.Path(file_okay=False, writable=True), default=None,
              help="Folder of the spilled element cache [default: the system's temporary folder].")
@click.option("--allow-genome-mismatch", is_flag=True,
              help="Score data from another genome build than the model's training data (a warning, "
                   "recorded in the predictions' .json sidecar) instead of stopping.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@out_option(help="Output predictions table (TSV).", file=True)
def main(checkpoint, data, pairs, genome, chunk_size, batch_size, all_rows, no_element_cache, cache_mb,
         cache_dir, allow_genome_mismatch, device, out):
    from epitools.training.predict import Predictor, predict_pairs, predict_store

    if (data is None) == (pairs is None):
        raise UsageError("give exactly one of --data (encoded store) or --pairs (pair table)")
    if chunk_size < 1 or batch_size < 1:
        raise UsageError("--chunk-size and --batch-size must be positive")
    predictor = Predictor(checkpoint, device=device, batch_size=batch_size,
                          element_cache=not no_element_cache, allow_genome_mismatch=allow_genome_mismatch)
    if data is not None:
        predict_store(predictor, data, out, chunk_size=chunk_size, all_rows=all_rows)
    else:
        predict_pairs(predictor, pairs, genome, out, chunk_size=chunk_size, cache_mb=cache_mb,
                      cache_dir=cache_dir)
