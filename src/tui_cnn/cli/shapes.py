"""``tui-cnn shapes`` and ``tui-cnn presets``: the shape engine without a UI."""

from __future__ import annotations

import json
import sys

import click

from .common import EXIT_INVALID, EXIT_OK, InputShape, batch_size_option, load_model_or_exit, model_argument


@click.command()
@model_argument()
@batch_size_option()
@click.option("--input", "input_shape", type=InputShape(), help="override the input shape, e.g. 3,32,32")
@click.option("--json", "as_json", is_flag=True, help="print JSON (a stable contract for tools)")
def shapes(model: str, batch_size: int, input_shape: tuple[int, int, int] | None, as_json: bool) -> None:
    """Print every layer's shapes, parameters, MACs and memory. Exit 1 if the model is invalid."""
    from ..domain.shapes import analyze

    spec = load_model_or_exit(model)
    if input_shape:
        spec = spec.with_input_shape(input_shape)
    analysis = analyze(spec, batch_size)
    if as_json:
        click.echo(json.dumps(analysis.to_json(), indent=2))
    else:
        from rich.console import Console

        from .summary import render_summary

        Console().print(render_summary(analysis))
    sys.exit(EXIT_OK if analysis.valid else EXIT_INVALID)


@click.command()
def presets() -> None:
    """List the built-in models."""
    from ..domain.presets import PRESETS, load_preset
    from ..domain.shapes import analyze

    width = max(len(name) for name in PRESETS)
    for name, (_, description) in PRESETS.items():
        spec = load_preset(name)
        params = analyze(spec).totals.params
        c, h, w = spec.input_shape
        click.echo(f"{name:<{width}} {c}x{h}x{w}  {params:>9,} params  {description}")
