"""Spec files: YAML in, a validated Pydantic model out, every mistake located."""

from zoo.spec.loader import LoadedSpec, apply_overrides, load_spec, load_spec_text, validate_spec
from zoo.spec.schema import spec_json_schema

__all__ = [
    "LoadedSpec",
    "apply_overrides",
    "load_spec",
    "load_spec_text",
    "spec_json_schema",
    "validate_spec",
]
