"""File formats: pairs tables, genomes, HDF5 stores, tracks, checkpoints."""
