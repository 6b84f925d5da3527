"""epitools: enhancer–promoter interaction and gene expression models from DNA sequence."""

__version__ = "0.1.0"
