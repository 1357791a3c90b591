"""``tui-cnn inspect``: one image through a trained run's model, layer by layer."""

from __future__ import annotations

import json

import click

from .common import fail, say


@click.command()
@click.argument("run_dir", metavar="RUN_DIR")
@click.option("--index", type=click.IntRange(min=0), help="the Nth image of the run's test split (from 0)")
@click.option(
    "--image", "image_path", metavar="FILE", help="your own picture (PNG, JPEG...), converted to the model's input"
)
@click.option("--json", "as_json", is_flag=True, help="print JSON: label, predicted, probabilities, layers")
def inspect(run_dir: str, index: int | None, image_path: str | None, as_json: bool) -> None:
    """What the run's best checkpoint makes of one image: the prediction, the class
    probabilities and each layer's output (shape, min, max, mean, share of zeros).

    A picture of another size is resized to fit (aspect kept, padded), a colour picture for a
    gray model turned gray, a dark-on-light picture for a gray model inverted; each is noted.
    Exit 2 for a bad command line, run directory or file."""
    if (index is None) == (image_path is None):
        fail("give exactly one of --index N or --image FILE")
    from ..backend.data import MissingDataError
    from ..backend.inspect import InspectError, Inspector, image_from_file

    try:
        inspector = Inspector.for_run(run_dir)
        if index is not None:
            view = inspector.test_view(index)
        else:
            image, notes = image_from_file(image_path, tuple(inspector.spec.input_shape))
            view = inspector.view(image, None, image_path, notes)
    except (InspectError, MissingDataError) as exc:
        fail(str(exc))
    view.source = f"{view.source} · {inspector.description}"
    report = view.report()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        say(report.to_text())  # names the run's model and the picture's file
