"""Example Plugin: a zoo plugin package (the entry point is ``zoo_example_plugin.plugin``)."""

__version__ = "0.1.0"
