"""Hi-C contacts via cooler, power law, ABC contact normalisation."""
