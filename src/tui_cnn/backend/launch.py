"""Starting a run that outlives whoever started it: the monitor's `r`, the Runs screen's
continue, and `tui-cnn train --detach` all start runs this one way.

The run trains in a process of its own session (setsid: no controlling terminal, so a hang-up,
a closed SSH connection, a killed tmux pane or a ``kill -9`` of the app never reaches it),
stdin from a pipe closed at once (it reads its request and waits on nobody), its output in
``RUN_DIR/output.log``. It is followed through its files (events.jsonl, process.json) and
steered through control.json, by any app or `tui-cnn stop|pause|resume RUN_DIR`: the run
directory is the one owner of a run's state and control.

No torch here: the app calls this from a worker and must not load torch to start a run.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from ..domain.spec import ModelSpec
from ..domain.specfile import spec_to_dict
from ..domain.training import OUTPUT_LOG, RunRequest, TrainConfig, new_run_dir

#: The run's process: `tui-cnn train --headless` reading its request from stdin (its plain
#: per-epoch lines go to output.log). Named, not imported: it is the command line's.
DETACHED_MODULE = "tui_cnn.cli.detached"


@dataclass
class Launched:
    """A run started by this process. ``exit_status`` is None while its process lives; a
    thread waits for it, so it never lingers as a zombie that looks alive to ``os.kill``."""

    run_dir: Path
    process: subprocess.Popen

    @property
    def exit_status(self) -> int | None:
        return self.process.poll()


def start_detached(spec: ModelSpec, config: TrainConfig) -> Launched:
    """Start training ``spec`` with ``config`` in a session of its own. OSError when the run
    directory cannot be made (said in one line by the caller)."""
    run_dir = Path(config.run_dir) if config.run_dir else new_run_dir(spec.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    request = RunRequest(spec_to_dict(spec), replace(config, run_dir=str(run_dir))).encode()
    with (run_dir / OUTPUT_LOG).open("ab") as log:
        child = subprocess.Popen([sys.executable, "-m", DETACHED_MODULE], stdin=subprocess.PIPE, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    try:
        child.stdin.write(request.encode())
        child.stdin.close()
    except OSError:  # it died at once; its output.log says why
        pass
    threading.Thread(target=child.wait, name=f"reap {run_dir.name}", daemon=True).start()
    return Launched(run_dir, child)

