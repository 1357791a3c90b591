"""``python -m tui_cnn.cli.detached``: the process of a run started with `train --detach`.
It reads its request (spec and settings as JSON) from stdin once, then trains headless with
its output in the run directory; control comes through the run directory (control.json)."""

from __future__ import annotations

import json
import signal
import sys


def main() -> int:
    from ..domain.specfile import spec_from_dict
    from ..domain.training import TrainConfig
    from .train import _train_headless

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # belt and braces: no terminal can hang it up
    request = json.loads(sys.stdin.read())
    return _train_headless(spec_from_dict(request["spec"]), TrainConfig.from_json(request["config"]))


if __name__ == "__main__":
    sys.exit(main())
