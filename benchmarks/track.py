"""Figure: how long `tui-cnn track` takes on real models (torchvision's resnet50 and
efficientnet_b0), from MODULE:ATTR to the table's rows: build on meta + trace the data flow.

torch and torchvision are imported before the clock starts: the figure is tui-cnn's own
cost, not torch's import (the startup benchmark measures that). Since issue 19 the CLI and the
app track in a child process (backend/track_process.py), which imports torch itself: the
child's figures say what a user waits for, from MODULE:ATTR to the rows in this process, and
for a new input shape once the child holds the model.
"""

from __future__ import annotations

import time

from .harness import Figure, Options, median

MODELS = ("resnet50", "efficientnet_b0")


def seconds_to_track(name: str) -> tuple[float, float, int]:
    """(build s, trace s, rows) for one fresh build and trace."""
    from tui_cnn.backend.introspect import build_target, track

    started = time.perf_counter()
    model, built_on = build_target(f"torchvision.models:{name}")
    built = time.perf_counter()
    summary = track(model, (3, 224, 224), 1, name, built_on)
    return built - started, time.perf_counter() - built, len(summary.rows)


def seconds_in_a_child(name: str) -> tuple[float, float]:
    """(first answer s, second answer s) of a fresh child: start, import torch, build, trace;
    then traced again at another input shape (the model kept)."""
    from tui_cnn.backend.track_process import TrackSession

    session = TrackSession(f"torchvision.models:{name}", quiet=True)
    try:
        started = time.perf_counter()
        session.summary((3, 224, 224), 1)
        first = time.perf_counter()
        session.summary((3, 192, 192), 1)
        return first - started, time.perf_counter() - first
    finally:
        session.close()


def run(options: Options) -> list[Figure]:
    import torch  # noqa: F401  (outside the timing: torch's import is not ours)
    import torchvision.models  # noqa: F401

    repeats = options.runs(full=5, quick=2)
    figures = []
    for name in MODELS:
        seconds_to_track(name)  # warm-up: the first call imports the tracer's own modules
        runs = [seconds_to_track(name) for _ in range(repeats)]
        totals = [b + t for b, t, _ in runs]
        figures.append(
            Figure(
                "track",
                f"track {name} (build on meta + trace)",
                median(totals),
                "s",
                f"3x224x224, batch 1, {runs[0][2]} rows, median of {repeats}, torch already imported",
                samples=totals,
                target="< 2",
                extra={
                    "build_s": median([b for b, _, _ in runs]),
                    "trace_s": median([t for _, t, _ in runs]),
                    "rows": runs[0][2],
                },
            )
        )
    child = [seconds_in_a_child("resnet50") for _ in range(repeats)]
    figures.append(
        Figure(
            "track",
            "track resnet50 in its child process (start + import torch + build + trace)",
            median([first for first, _ in child]),
            "s",
            f"3x224x224, batch 1, a fresh child each time, median of {repeats}",
            samples=[first for first, _ in child],
            target="< 5",
            extra={"retrace_s": median([again for _, again in child])},
        )
    )
    figures.append(
        Figure(
            "track",
            "track resnet50 again at a new input shape (child holds the model)",
            median([again for _, again in child]),
            "s",
            f"3x192x192, median of {repeats}",
            samples=[again for _, again in child],
            target="< 2",
        )
    )
    return figures
