"""Windows, one-hot and k-mer encoding, augmentation, splits, torch Datasets, simulation."""
