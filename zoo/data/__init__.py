"""Data: the container data sources return, splitting, image decoding, and the tf.data pipeline."""
