"""Parameters of :func:`epitools.data.simulate.simulate`, with the named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from epitools.data import simulate_motifs
from epitools.errors import UsageError

N_HALF_LIFE_FEATURES = 8
# Expression weight of each half-life-like gene feature hl_1..hl_8 (only the first three matter).
DRIVER_RULES = ("sampled", "compatible")
HALF_LIFE_WEIGHTS = (0.3, -0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0)
PAIR_COLUMNS = ["enhancer_chrom", "enhancer_start", "enhancer_end", "promoter_chrom",
                "promoter_start", "promoter_end", "pair_id", "label", "cell_type", "gene", "tss",
                "distance", "enhancer_id", "promoter_id"]
EDGE_MARGIN = 2000
GENE_GAP = 10_000
SIBLING_MIN_LENGTH = 400


@dataclass
class SimulationConfig:
    """Parameters of a simulated data set (defaults: the model acceptance set).

    Difficulty knobs: ``motif_strength`` (PWM sharpening; 1 samples the PWM itself),
    ``motif_copies`` (planted instances per element), ``noise`` (probability of a decoy
    motif of another family in each element, and density of random motif instances
    genome-wide) and ``unclean_fraction`` (interactions whose enhancer carries an
    incompatible family, i.e. positives without a clean motif pair). Negatives are
    distance-matched at 1:20 (TargetFinder's ratio), and every family stays equally frequent on
    both sides of both classes: only the combination across a pair is informative.
    ``inactive_fraction`` of the enhancer candidates have no planted motif (family -1 in
    truth.json) and ``inactive_activity`` times the activity: unbound elements that pair
    only as negatives, as real candidate sets hold many. They give an enhancer-only model
    some signal (AUROC ~0.7) but none about which pairs interact. Drivers' activity is
    ``driver_activity_boost`` times their draw: with 5, ABC ranks the planted drivers at
    AUPRC ~0.5 on held-out genes, near the 0.6-0.7 CRISPRi screens give ABC (with 3 it was
    0.41).

    Motif dosage: an element's activity (enhancer or promoter) is its draw times the fraction
    of its planted copies that are intact, so a variant that breaks one of ``n`` copies lowers
    it by ``1/n`` and the driven gene's expression with it. With ``motif_copies_min`` set, each
    bound element carries a uniform number of copies in [``motif_copies_min``,
    ``motif_copies``] and its activity scales with that number, which is what lets a model
    trained on activity or expression learn that each copy counts; unset, every bound element
    carries ``motif_copies`` copies and activity does not vary with them.

    ``drivers`` says which candidates drive a gene. ``"sampled"``: ``driver_gene_fraction`` of
    the genes get 1 + Poisson(``extra_drivers_mean``) (at most ``max_drivers``), drawn among
    their candidates with a weak distance prior, ``unclean_fraction`` of them without a
    compatible motif pair; which compatible candidates drive a gene, and whether it has any, is
    then not in its sequence. ``"compatible"``: every bound primary candidate of the gene's
    family among its ``max_candidates`` nearest drives (the three fractions above are
    ignored), so expression is a function of sequence, distance and the activity draws, which
    is what a sequence-only expression model (EPInformer-PE) can learn.

    ``activity_library`` > 0 also writes an activity library of that many 256-bp windows
    (:mod:`epitools.data.simulate_library`): varied copies, of which ``library_break_fraction``
    are broken by one base, to pre-train EPInformer's sequence encoder on, as the paper
    pre-trains on genome-wide activity.
    """

    n_chroms: int = 12
    chrom_size: int = 4_000_000
    n_genes: int = 1440
    enhancers_per_mb: float = 270.0
    enhancer_length: tuple = (300, 1000)
    promoter_flank: int = 500
    overlap_fraction: float = 0.1
    gc: float = 0.41
    motif_strength: float = 3.0
    motif_copies: int = 4
    motif_copies_min: int | None = None
    noise: float = 0.15
    unclean_fraction: float = 0.02
    inactive_fraction: float = 0.3
    drivers: str = "sampled"
    driver_gene_fraction: float = 0.75
    extra_drivers_mean: float = 1.0
    max_drivers: int = 4
    driver_distance_decay: float = 0.2
    min_distance: int = 3000
    max_distance: int = 100_000
    max_candidates: int = 60
    negatives_per_positive: int = 20  # TargetFinder ratio
    cell_types: tuple = ("SIM",)
    shared_interactions: float = 0.7
    hic_resolution: int = 5000
    mcool_resolutions: tuple = (5000, 10000, 25000)
    hic_depth: float = 400.0
    hic_alpha: float = 1.0
    hic_enrichment: float = 4.0
    hic_max_distance: int = 2_000_000
    activity_sd: float = 0.5
    driver_activity_boost: float = 5.0
    inactive_activity: float = 0.25
    track_noise: float = 0.25
    expression_baseline: float = 0.05
    expression_scale: float = 30.0
    expression_noise: float = 0.15
    enhancer_motifs: tuple = field(default=simulate_motifs.ENHANCER_MOTIFS)
    promoter_motifs: tuple = field(default=simulate_motifs.PROMOTER_MOTIFS)
    activity_library: int = 0
    library_break_fraction: float = 0.3

    @classmethod
    def default(cls, **overrides) -> "SimulationConfig":
        """Acceptance set: 12 chromosomes of 4 Mb, 1440 genes, ~2,400 positives, ~49k pairs.

        With ~800 positives (480 genes on 2 Mb chromosomes) no model got past the enhancer-only
        signal (AUROC ~0.7) from 500 bp windows; with three times as many, EPIPAM's paper
        architecture learns the pair grammar (held-out chromosomes: AUROC 0.98, 500 bp).
        """
        return cls(**overrides)

    @classmethod
    def small(cls, **overrides) -> "SimulationConfig":
        """Model-training tests: 6 chromosomes of 600 kb, 144 genes, ~250 positives."""
        base = dict(n_chroms=6, chrom_size=600_000, n_genes=144, hic_max_distance=600_000,
                    enhancers_per_mb=340.0)
        return cls(**{**base, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> "SimulationConfig":
        """Unit tests: 4 chromosomes of 250 kb, a few dozen positives; generated in ~1 s."""
        base = dict(n_chroms=4, chrom_size=250_000, n_genes=24, hic_max_distance=250_000)
        return cls(**{**base, **overrides})

    @classmethod
    def medium(cls, **overrides) -> "SimulationConfig":
        """Driver-recovery set: 12 chromosomes of 2 Mb, 480 genes, ~800 positives."""
        return cls(**{"chrom_size": 2_000_000, "n_genes": 480, **overrides})

    @classmethod
    def preset(cls, name: str, **overrides) -> "SimulationConfig":
        presets = {"tiny": cls.tiny, "small": cls.small, "medium": cls.medium, "default": cls.default}
        if name not in presets:
            raise UsageError(f"unknown preset '{name}' (choose from {', '.join(presets)})")
        return presets[name](**overrides)

    def validate(self) -> None:
        """Raise :class:`UsageError` for parameters that cannot produce a data set."""
        problems = []
        if self.n_chroms < 1:
            problems.append("n_chroms must be >= 1")
        if self.n_genes < self.n_chroms:
            problems.append("n_genes must be at least n_chroms (one gene per chromosome)")
        lo, hi = self.enhancer_length
        if not 50 <= lo <= hi:
            problems.append("enhancer_length must be (min, max) with 50 <= min <= max")
        if not 0 < self.gc < 1:
            problems.append("gc must be in (0, 1)")
        if self.motif_strength <= 0:
            problems.append("motif_strength must be > 0")
        if self.expression_scale <= 0:
            problems.append("expression_scale must be > 0")
        if self.inactive_activity <= 0 or self.driver_activity_boost <= 0:
            problems.append("inactive_activity and driver_activity_boost must be > 0")
        if self.motif_copies < 1:
            problems.append("motif_copies must be >= 1")
        if self.motif_copies_min is not None and not 1 <= self.motif_copies_min <= self.motif_copies:
            problems.append("motif_copies_min must be in [1, motif_copies]")
        if self.drivers not in DRIVER_RULES:
            problems.append(f"drivers must be one of {', '.join(DRIVER_RULES)}")
        if self.activity_library < 0:
            problems.append("activity_library must be >= 0")
        for name in ("library_break_fraction", "noise", "unclean_fraction", "inactive_fraction", "overlap_fraction", "driver_gene_fraction",
                     "shared_interactions"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1]")
        if not 0 <= self.min_distance < self.max_distance:
            problems.append("need 0 <= min_distance < max_distance")
        if len(self.enhancer_motifs) != len(self.promoter_motifs) or len(self.enhancer_motifs) < 2:
            problems.append("need the same number (>= 2) of enhancer and promoter motifs")
        if not self.cell_types or len(set(self.cell_types)) != len(self.cell_types):
            problems.append("cell_types must be distinct, non-empty names")
        if any(r % self.hic_resolution for r in self.mcool_resolutions):
            problems.append("mcool_resolutions must be multiples of hic_resolution")
        if self.negatives_per_positive < 1:
            problems.append("negatives_per_positive must be >= 1")
        genes_per_chrom = -(-self.n_genes // self.n_chroms)
        if (genes_per_chrom - 1) * GENE_GAP > self.chrom_size - 2 * EDGE_MARGIN:
            problems.append(f"{genes_per_chrom} genes do not fit on a {self.chrom_size} bp "
                            f"chromosome ({GENE_GAP} bp apart); raise chrom_size or lower n_genes")
        spacing = hi + 200
        n_enh = int(round(self.enhancers_per_mb * self.chrom_size / 1e6))
        if n_enh * spacing > self.chrom_size - 2 * EDGE_MARGIN:
            problems.append("enhancers_per_mb too high for the enhancer length")
        if problems:
            raise UsageError("invalid simulation parameters: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}
