"""Built-in scaling and augmentation recipes (see docs/reference-models.md)."""
