"""Variant effects: what a VCF's SNVs and indels do to pair scores, expression and enhancer ranks.

:mod:`.vcf` reads and splits records, :mod:`.alleles` finds the windows a variant falls in and
builds REF/ALT windows, :mod:`.pair_effects` scores pair models (element cache),
:mod:`.gene_effects` EPInformer, :mod:`.null` the background null, :mod:`.output` the TSV and
annotated VCF; :func:`.run.score_variants` ties them together for ``epi-variants``.
"""
