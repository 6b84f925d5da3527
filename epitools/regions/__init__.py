"""Candidate elements, genes and element activity from a lab's own files (ABC-style).

Modules, one per concept: :mod:`.intervals` (sorting, merging and overlap of BED intervals),
:mod:`.peaks` (narrowPeak/BED peaks to candidate regions, as ABC's makeCandidateRegions),
:mod:`.genes` (GTF/GFF3/BED/TSS tables to a one-TSS-per-gene table), :mod:`.counts` (read
counts from BAM/CRAM and signal from bigWig/bedGraph over elements), :mod:`.activity` (RPM,
quantile normalisation, ABC activity and element classes) and :mod:`.pairs` (every
element–gene pair within a distance, per chromosome).

This layer sits below :mod:`epitools.data` and imports only :mod:`epitools.io`,
:mod:`epitools.errors` and :mod:`epitools.progress`.
"""
