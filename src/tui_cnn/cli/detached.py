"""``python -m tui_cnn.cli.detached``: the process of a run started with `train --detach`.
It reads its request (spec and settings as JSON) from stdin once, then trains headless with
its output in the run directory; control comes through the run directory (control.json)."""

from __future__ import annotations

import signal
import sys


def main() -> int:
    from ..domain.specfile import SpecError
    from ..domain.training import RunFileError, RunRequest
    from .train import _train_headless

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # belt and braces: no terminal can hang it up
    try:
        request = RunRequest.decode(sys.stdin.read())
        spec = request.model_spec()
    except (RunFileError, SpecError) as exc:
        print(f"tui-cnn: training failed: {exc}", file=sys.stderr)
        return 2
    return _train_headless(spec, request.config)


if __name__ == "__main__":
    sys.exit(main())
