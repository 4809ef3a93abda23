"""The contract checks plugin authors call from their own pytest (``zoo.plugin.testing``).

Kept under this short name because it is what a plugin's tests import::

    from zoo.testing import check_plugin
"""

from zoo.plugin.testing import (
    CheckReport,
    check_architecture,
    check_data_source,
    check_plugin,
    check_recipe,
    declared_size,
)

__all__ = [
    "CheckReport",
    "check_architecture",
    "check_data_source",
    "check_plugin",
    "check_recipe",
    "declared_size",
]
