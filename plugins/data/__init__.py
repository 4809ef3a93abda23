"""Built-in data sources (DIGEST section 3)."""
