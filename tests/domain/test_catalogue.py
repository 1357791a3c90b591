"""The layer catalogue (domain/layers.py) declares each layer type once, with what it does:
adding a type without a shape rule, a line saying what it does, starters for what PyTorch
requires or a working export fails here, and code that compares a type's name to a catalogued
one instead of asking the catalogue fails too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tui_cnn
from tui_cnn.domain.explain import Section, explain
from tui_cnn.domain.export import export_code, split_at_flatten
from tui_cnn.domain.layers import LAYER_TYPES, layer_type
from tui_cnn.domain.shapes import SHAPE_RULES, analyze
from tui_cnn.domain.spec import LayerSpec, ModelSpec
from tui_cnn.domain.starters import starter_layer

SOURCE = Path(tui_cnn.__file__).parent


def probe_model(type_name: str) -> ModelSpec:
    """A small model with a new layer of ``type_name`` (as the builder adds it) on an image,
    then the classifier."""
    empty = ModelSpec("probe", (3, 8, 8))
    layer = starter_layer(type_name, empty, 0)
    return empty.with_layers([layer, LayerSpec("Flatten"), LayerSpec.of("Linear", out_features=10)])


def test_every_type_has_a_shape_rule():
    assert SHAPE_RULES.keys() == LAYER_TYPES.keys()


@pytest.mark.parametrize("type_name", sorted(LAYER_TYPES))
def test_every_type_says_what_it_does_in_the_formula_panel(type_name):
    report = analyze(probe_model(type_name)).layers[0]
    summary = LAYER_TYPES[type_name].summary
    assert summary
    assert Section(type_name, (summary,)) in explain(report)


@pytest.mark.parametrize("type_name", sorted(LAYER_TYPES))
def test_every_type_as_the_builder_adds_it_is_valid_and_exports(type_name):
    spec = probe_model(type_name)
    assert analyze(spec).valid, analyze(spec).errors
    code = export_code(spec)
    compile(code, "model.py", "exec")  # a file Python reads (torch runs it: test_export.py)
    assert f"nn.{type_name}(" in code


def test_the_facts_are_consistent():
    for ltype in LAYER_TYPES.values():
        assert not ltype.widens or ltype.field(ltype.widens) is not None, ltype.name
        assert not ltype.adaptive or ltype.pools, ltype.name  # only pooling adapts its windows
        assert not ltype.pools or ltype.category == "pool", ltype.name


def test_a_name_the_catalogue_does_not_hold_has_no_facts():
    unknown = layer_type("Conv1d")  # a tracked module's class, say
    assert not (
        unknown.summary or unknown.weights or unknown.pools or unknown.adaptive or unknown.flattens or unknown.widens
    )


def test_the_classifier_starts_at_the_first_layer_that_flattens():
    spec = probe_model("ReLU")
    assert split_at_flatten(spec.layers) == 1
    assert split_at_flatten(spec.layers[:1]) == 1  # none: all features


# --- no code dispatches on a catalogued type's name ---

#: Name comparisons kept on purpose, each with its reason: (file, the comparison).
KEPT = {
    # The dot product's next step is worked out for a ReLU only: max(0, x), computed there.
    ("domain/inspect.py", 'then == "ReLU"'),
    # MACs: torchinfo's per-position rule holds for any module with Linear in its class name,
    # catalogued or not (a tracked LazyLinear, an attention's out_proj): a substring, not a type.
    ("domain/explain.py", '"Linear" in report.type'),
}


def _named_types(node: ast.expr) -> list[str]:
    """The catalogued type names a compared expression spells out: "Conv2d", ("A", "B")."""
    items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [item.value for item in items if isinstance(item, ast.Constant) and item.value in LAYER_TYPES]


@pytest.mark.slow
def test_no_code_compares_a_type_to_a_catalogued_name():
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        where, source = path.relative_to(SOURCE).as_posix(), path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Compare) or (where, ast.get_source_segment(source, node)) in KEPT:
                continue
            if any(_named_types(operand) for operand in (node.left, *node.comparators)):
                found.append(f"{where}:{node.lineno} {ast.get_source_segment(source, node)}")
    assert not found, "ask the catalogue (domain/layers.py LayerType) instead: " + ", ".join(found)
