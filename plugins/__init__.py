"""zoo's built-in plugins, imported as ``zoo_builtins``.

Registered through the ``zoo.plugins`` entry points in pyproject.toml, exactly like a
third-party package's plugins; the core never imports them by name.
"""
