"""The domain: layers, specs and shape math. Pure Python; never imports torch or textual."""

from .layers import LAYER_TYPES, LayerType
from .presets import DEFAULT_PRESET, load_preset, preset_names, resolve_spec
from .shapes import Analysis, LayerReport, Totals, analyze
from .spec import Diagnostic, Fix, LayerSpec, ModelSpec
from .specfile import SpecError, load_spec, save_spec

__all__ = [
    "LAYER_TYPES",
    "LayerType",
    "DEFAULT_PRESET",
    "load_preset",
    "preset_names",
    "resolve_spec",
    "Analysis",
    "LayerReport",
    "Totals",
    "analyze",
    "Diagnostic",
    "Fix",
    "LayerSpec",
    "ModelSpec",
    "SpecError",
    "load_spec",
    "save_spec",
]
