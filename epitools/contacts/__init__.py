"""Hi-C contacts via cooler (.cool/.mcool) and hictkpy (.hic), power law, ABC contact normalisation."""

from epitools.contacts.pair_contacts import pair_contacts, pair_geometry
from epitools.contacts.powerlaw import abc_normalise, fit_powerlaw, powerlaw_contact, reference_scale

__all__ = ["pair_contacts", "pair_geometry", "powerlaw_contact", "abc_normalise", "fit_powerlaw",
           "reference_scale"]
