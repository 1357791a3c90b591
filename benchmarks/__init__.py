"""Benchmarks for every performance figure tui-cnn promises (not installed with the app).

Run ``python -m benchmarks`` from the repository root. Each module measures one thing and
returns ``Figure`` records; ``harness`` holds the timing code they share.
"""

from . import (
    attach,
    bigmodel,
    builder_keystroke,
    control,
    datapath,
    ddp,
    folder,
    fuzz,
    gpu,
    inspect,
    queue,
    runs,
    shapes,
    startup,
    track,
    training,
    ui,
)

#: Run order: cheap and independent of the training engine first.
BENCHMARKS = {
    module.__name__.rsplit(".", 1)[1]: module
    for module in (
        startup,
        shapes,
        track,
        builder_keystroke,
        bigmodel,
        inspect,
        runs,
        training,
        control,
        ddp,
        datapath,
        folder,
        queue,
        ui,
        attach,
        gpu,
        fuzz,
    )
}
