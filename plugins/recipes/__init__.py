"""Built-in scaling and augmentation recipes (DIGEST sections 4 and 5)."""
