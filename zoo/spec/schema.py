"""The JSON Schema of a spec, with every registered plugin's parameters, for editors."""

from __future__ import annotations

from typing import Any

from zoo.plugin.registry import Registry
from zoo.spec.dynamic import build_spec_model

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_json_schema(registry: Registry) -> dict[str, Any]:
    """Use with ``# yaml-language-server: $schema=zoo.schema.json`` at the top of a spec."""
    schema = build_spec_model(registry).model_json_schema()
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "zoo spec"}
