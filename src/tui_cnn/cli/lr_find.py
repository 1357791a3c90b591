"""``tui-cnn lr-find``: the learning-rate range test, as a curve in the terminal or JSON."""

from __future__ import annotations

import json
import shutil
from typing import Any

import click

from ..domain.lr_range import END_LR, MAX_BATCHES, START_LR
from .common import fail, load_model_or_exit, model_argument
from .train import training_options

#: The settings the range test reads; the others (epochs, schedule, run directory ...) are a run's.
READ = (
    "dataset",
    "data_dir",
    "resize",
    "batch_size",
    "optimizer",
    "momentum",
    "nesterov",
    "weight_decay",
    "label_smoothing",
    "val_fraction",
    "seed",
    "device",
)


@click.command("lr-find")
@model_argument(required=False)
@training_options
@click.option(
    "--start",
    type=click.FloatRange(min=1e-12, max=1e3),
    default=START_LR,
    show_default=True,
    help="the first learning rate tried",
)
@click.option(
    "--end",
    type=click.FloatRange(min=1e-11, max=1e6),
    default=END_LR,
    show_default=True,
    help="the last learning rate tried (the test stops sooner when the loss diverges)",
)
@click.option(
    "--batches",
    type=click.IntRange(10, 10_000),
    default=MAX_BATCHES,
    show_default=True,
    help="batches at most, one learning rate each",
)
@click.option("--json", "as_json", is_flag=True, help='print {"lrs", "losses", "suggestion", "minimum"}')
def lr_find(model: str | None, start: float, end: float, batches: int, as_json: bool, **options: Any) -> None:
    """Find a learning rate to start from: Smith's range test. A fresh copy of the model (default
    SimpleCNN) trains on the dataset with the optimizer given while the learning rate grows
    exponentially, until the smoothed loss diverges; the suggestion is where the loss fell
    fastest. Nothing is saved. Exit 0, 1 when no descent was found, 2 for bad arguments."""
    from ..domain.datasets import check_spec_matches, default_dataset
    from ..domain.train_config import TrainConfig

    if end <= start:
        fail(f"--end ({end:g}) must be larger than --start ({start:g})")
    spec = load_model_or_exit(model)
    given = {name: value for name, value in options.items() if value is not None and name in READ}
    if "dataset" not in given:
        given["dataset"], _ = default_dataset(given.get("data_dir"), spec.input_shape)
    config = TrainConfig(**given)
    problems = config.validate()
    mismatch = check_spec_matches(spec, config.dataset, config.data_dir)
    if problems or mismatch:
        fail("; ".join(problems + ([mismatch] if mismatch else [])))
    from ..backend.data import MissingDataError
    from ..backend.lr_find import lr_range_test

    try:
        result = lr_range_test(spec, config, start, end, batches)
    except (MissingDataError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        click.echo(_curve_text(spec.name, config, result))
    raise SystemExit(0 if result.suggestion is not None else 1)


def _curve_text(model: str, config, result) -> str:
    """The curve as a small plot (plotext), the suggestion and the minimum, in words."""
    import plotext

    plotext.clear_figure()
    plotext.plotsize(min(100, shutil.get_terminal_size().columns), 20)
    plotext.xscale("log")
    plotext.plot(result.lrs, result.losses, marker="braille")
    if result.losses:  # the diverging tail would squash the part worth reading
        plotext.ylim(min(result.losses), result.losses[0] * 1.5)
    if result.suggestion is not None:
        plotext.vline(result.suggestion, "red")
    plotext.title(f"{model} · {config.optimizer} · {config.dataset}: smoothed loss against learning rate")
    plotext.theme("clear")
    lines = [plotext.build()]
    if result.suggestion is not None:
        lines.append(
            f"suggested learning rate: {result.suggestion:.2g} (steepest descent of the loss; "
            f"lowest loss at {result.minimum:.2g})"
        )
        lines.append("a starting point for a run, not a tuned value: try it, and a few times smaller and larger")
    else:
        lines.append("no descent of the loss was found: try a wider range (--start, --end) or more --batches")
    return "\n".join(lines)
