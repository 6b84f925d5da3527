"""Training: one model on one split of one store (``epi-train``), and scoring with a checkpoint.

Modules, one concept each (``loop.train`` is the entry point):

- ``config``     -- :class:`TrainConfig`, the schedule and the checks of the options
- ``prepare``    -- seed, data source, split, model, optimizer, resume -> a ``Run``
- ``loop``       -- ``train()``: fit one epoch, validate, checkpoint, stop early
- ``state``      -- early stopping and every random state: exactly what ``last.pt`` holds
- ``finish``     -- test evaluation, ``model.pt`` test metrics, ``predictions.tsv``, ``metrics.json``
- ``evaluation`` -- model outputs for rows of a source, validation and test metrics
- ``metrics``    -- AUROC, AUPRC, F1, correlations over plain arrays
- ``sampling``   -- all positives plus N negatives per positive (training epochs, test ratios)
- ``sources``    -- stores opened for training: splits, batches, one-hot expansion on the device
- ``device``     -- ``--device`` resolution and autocast
- ``adversarial`` -- PGD on token embeddings
- ``predict``    -- scoring pairs or stores with a checkpoint (``epi-predict``)
"""
