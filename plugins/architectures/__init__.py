"""Built-in architecture plugins, one module per family (DIGEST section 6)."""
