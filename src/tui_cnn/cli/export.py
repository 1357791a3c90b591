"""``tui-cnn export``: a spec as a runnable PyTorch ``model.py``."""

from __future__ import annotations

import click

from .common import EXIT_INVALID, InputShape, fail, load_model_or_exit, model_argument, say


@click.command()
@model_argument()
@click.option(
    "--to",
    "target",
    metavar="FILE",
    default="-",
    show_default=True,
    help="where to write the code (atomically); - prints it",
)
@click.option("--input", "input_shape", type=InputShape(), help="override the input shape, e.g. 3,32,32")
def export(model: str, target: str, input_shape: tuple[int, int, int] | None) -> None:
    """Write the model as PyTorch code: an nn.Module with features and classifier.

    Exit 1 (with the diagnostics) if the model is invalid, 2 for a bad command line,
    spec or target file."""
    from ..domain.export import class_name, export_code
    from ..domain.shapes import analyze
    from ..domain.specfile import atomic_write_text

    _refuse_a_module(model)
    spec = load_model_or_exit(model)
    if input_shape:
        spec = spec.with_input_shape(input_shape)
    analysis = analyze(spec, batch_size=1)
    if not analysis.valid:
        fail(
            "\n".join([f"{spec.name} is not a valid model, nothing exported:", *map(_problem, analysis.errors)]),
            EXIT_INVALID,
        )
    code = export_code(spec)
    if target == "-":
        click.echo(code, nl=False)
        return
    try:
        atomic_write_text(target, code)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    say(f"wrote {target}: class {class_name(spec)}, {analysis.totals.params:,} parameters", err=True)


def _problem(diagnostic) -> str:
    where = "model" if diagnostic.layer is None else f"layer {diagnostic.layer}"
    field = f" {diagnostic.field}" if diagnostic.field else ""
    fix = f" (fix: {diagnostic.suggestion})" if diagnostic.suggestion else ""
    return f"  {where}{field}: {diagnostic.message}{fix}"


def _refuse_a_module(model: str) -> None:
    """A user's own module is code already: a run of one keeps its source, nothing to export."""
    from pathlib import Path

    from ..domain.model_source import SOURCE_DIR
    from ..domain.run_files import read_run_config
    from ..domain.run_records import RunFileError

    if (Path(model) / "config.json").is_file():
        try:
            module = read_run_config(model).module
        except RunFileError as exc:
            fail(str(exc))
        if module is None:
            fail(f"{model} is a run directory: its model.py is the exported code")
        fail(
            f"{model} trained your own module {module.target}: its code is the run's kept source "
            f"({Path(model) / SOURCE_DIR}), there is no spec to export"
        )
    if ":" in model and not Path(model).exists():
        fail(f"{model} is your own module, code already: export writes a spec (a preset or .toml file) as code")
