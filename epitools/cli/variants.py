"""``epi-variants``: effects of a VCF's variants on pair scores, expression and enhancer ranks."""

from __future__ import annotations

import click

from epitools.cli._common import command, out_option, seed_option


@command(help="Score the SNVs and indels (<= 50 bp) of a VCF/BCF with pair models (Δ logit and Δ "
              "probability per variant and pair, --pairs) and/or EPInformer (Δ predicted log "
              "expression, attention, attention-ABC and rank per variant and gene, --data gene store). "
              "REF and ALT windows come from --genome; REF must match it. Variants outside every "
              "window are reported as not scored. Writes effects.tsv, summary.tsv (best target, "
              "empirical p and z against a background null), variants.annotated.vcf.gz and run.json.")
@click.option("--vcf", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Variants: VCF (plain or bgzipped) or BCF; multi-allelic records are split.")
@click.option("--genome", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Genome FASTA or 2bit the VCF refers to (chr1/1 aliases resolved).")
@click.option("--model", "checkpoints", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint (model.pt); repeat for several models (pair models and EPInformer). "
                   "Checkpoints may also follow the options as arguments.")
@click.option("--pairs", type=click.Path(exists=True, dir_okay=False),
              help="Pairs table whose enhancer and promoter windows pair models score.")
@click.option("--data", "gene_store", type=click.Path(exists=True, dir_okay=False),
              help="Gene store (epi-encode genes) whose promoters and candidate enhancers EPInformer scores.")
@click.option("--skip-ref-mismatch", is_flag=True,
              help="Drop (and count) records whose REF differs from the genome instead of stopping.")
@click.option("--null", "n_null", type=click.IntRange(min=0), default=1000,
              help="Background SNVs per model at shuffled positions in the same windows (0: no null).")
@click.option("--null-vcf", type=click.Path(exists=True, dir_okay=False),
              help="Background variants (e.g. allele-frequency matched) instead of generated SNVs.")
@click.option("--attribute", is_flag=True,
              help="Also ISM of REF and ALT around each top variant and the JASPAR motif gained or lost "
                   "(FIMO via memelite), into attributions/.")
@click.option("--attribute-variants", "top", type=click.IntRange(min=1), default=20,
              help="How many of the strongest variants --attribute explains.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@seed_option()
@out_option(help="Output directory.")
@click.argument("more_checkpoints", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def main(vcf, genome, checkpoints, more_checkpoints, pairs, gene_store, skip_ref_mismatch, n_null, null_vcf, attribute, top,
         device, seed, out):
    from epitools.variants.run import score_variants

    score_variants(vcf, genome, [*checkpoints, *more_checkpoints], out, pairs_path=pairs, gene_store=gene_store,
                   skip_ref_mismatch=skip_ref_mismatch, n_null=n_null, null_vcf=null_vcf, seed=seed,
                   device=device, attribute_top=top if attribute else 0)
