"""Training loop, losses, adversarial training, metrics, early stopping, resume."""
