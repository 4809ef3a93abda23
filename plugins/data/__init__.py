"""Built-in data sources: Keras data sets, class folders, CSV tables, .npz files, digits."""
