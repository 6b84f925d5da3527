"""ABC, attention and knockout scores per gene; CRISPR benchmark evaluation."""
