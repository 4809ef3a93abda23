"""Built-in architecture plugins, one module per family.

The reference models they reproduce are described in docs/reference-models.md.
"""
