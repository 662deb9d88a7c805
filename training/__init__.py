"""Training: datasets, the LightningModule, evaluation and export of model files."""
