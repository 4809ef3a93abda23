"""zoo-hub: KerasHub's vision transformers and CNN backbones as zoo architectures.

Importing this package is cheap (no TensorFlow, Keras or KerasHub): zoo imports every plugin
for ``zoo list``. The entry point is :mod:`zoo_hub.plugin`.
"""

__version__ = "0.1.0"
