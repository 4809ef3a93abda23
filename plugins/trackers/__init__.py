"""Built-in experiment trackers: MLflow and TensorBoard (enabled by ``ZOO_TRACKING``)."""
