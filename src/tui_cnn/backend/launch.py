"""Starting training processes: every process tui-cnn trains in runs ``python -P -m
tui_cnn.backend.child`` (the one entry point, ``backend.child``), in one of its modes:

- detached (`train --detach`, the monitor's `r`, the Runs screen's continue: ``start_detached``):
  the run trains in a process of its own session (setsid: no controlling terminal, so a
  hang-up, a closed SSH connection, a killed tmux pane or a ``kill -9`` of the app never
  reaches it), stdin from a pipe closed once the request is written, its output in
  ``RUN_DIR/output.log``. It is followed through its files (events.jsonl, process.json) and
  steered through control.json, by any app or `tui-cnn stop|pause|resume RUN_DIR`: the run
  directory is the one owner of a run's state and control;
- pipe (``train_process.TrainingProcess``): events on stdout, controls on stdin;
- a torchrun rank (``launch_command``): torchrun starts the same entry point on each rank.

``-P`` (and PYTHONSAFEPATH=1 for what those children start, torchrun's ranks) keeps the
working directory off ``sys.path``: a ``json.py`` or ``torch.py`` beside the user is never
imported in place of the real one. (``-I`` would also drop PYTHONPATH, which a development
checkout relies on.)

The launcher takes the run directory's lock (``domain.run_lock``) before the child exists
and hands it down as an open descriptor: the child holds the run from its first instant, so
two starts of one run directory cannot both train, and the second is refused in one line.

No torch here: the app calls this from a worker and must not load torch to start a run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..domain.model_source import ModelSource, ModuleSource, source_to_dict
from ..domain.run_dir import OUTPUT_LOG, new_run_dir
from ..domain.run_events import RunStarted
from ..domain.run_files import EventFollower
from ..domain.run_lock import RunLock
from ..domain.run_records import RunRequest
from ..domain.train_config import TrainConfig

#: The training process's module: ``backend.child``.
CHILD_MODULE = "tui_cnn.backend.child"
#: Set for every child, so that what it starts in turn (torchrun's ranks) keeps the safe path.
SAFE_PATH_ENV = {"PYTHONSAFEPATH": "1"}


def python_command(module: str, *args: str) -> list[str]:
    """``python -P -m module args``: this interpreter, the working directory off sys.path."""
    return [sys.executable, "-P", "-m", module, *args]


def child_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    return {**(os.environ if environ is None else environ), **SAFE_PATH_ENV}


def launch_command(nproc_per_node: int, module: str = CHILD_MODULE) -> list[str]:
    """torchrun on this machine, running ``module`` on ``nproc_per_node`` ranks.
    ``--standalone`` finds a free port for the rendezvous, so runs side by side never clash.
    torchrun starts its ranks with ``python -m``; PYTHONSAFEPATH (launch_environment) keeps
    the working directory off their path too."""
    return python_command("torch.distributed.run", "--standalone", f"--nproc-per-node={nproc_per_node}", "-m", module)


def launch_environment(nproc_per_node: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The ranks' environment. The cores are shared out (C cores, N ranks: C // N threads
    each, at least one) so that ranks training on the CPU do not fight over cores; ranks
    feeding GPUs need few threads anyway. A thread count the user set is kept."""
    env = child_environment(environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc_per_node)))
    return env


def under_torchrun() -> bool:
    """True in a process torchrun started as one rank of several (its environment says so)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def request_line(spec: ModelSource, config: TrainConfig) -> str:
    """What a child reads first (on its stdin, or a SLURM job's request.json): the model (a spec,
    or a module and its spec stub: domain.model_source) and the settings, as one JSON line of
    the one request record (domain RunRequest)."""
    module = spec if isinstance(spec, ModuleSource) else None
    return RunRequest(source_to_dict(spec)["spec"], config, module).encode()


@dataclass
class Launched:
    """A run started by this process. ``exit_status`` is None while its process lives; a
    thread waits for it, so it never lingers as a zombie that looks alive to ``os.kill``."""

    run_dir: Path
    process: subprocess.Popen
    started_at: float = field(default_factory=time.time)  # the events of this start come after

    @property
    def exit_status(self) -> int | None:
        return self.process.poll()


def claim_run_dir(spec: ModelSource, config: TrainConfig) -> RunLock:
    """The run directory of ``config`` (a new automatic one made atomically, with -2, -3... when
    taken), locked for the run. RunLocked when another process trains it; OSError when it
    cannot be made."""
    if config.run_dir:
        run_dir = Path(config.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = new_run_dir(spec.name)
    return RunLock.acquire(run_dir)


def start_detached(spec: ModelSource, config: TrainConfig) -> Launched:
    """Start training ``spec`` with ``config`` in a session of its own, holding its run
    directory's lock. RunLocked (one line, naming the process) when another process trains
    that run directory; OSError when it cannot be made (said in one line by the caller)."""
    lock = claim_run_dir(spec, config)
    run_dir = lock.run_dir
    try:
        with (run_dir / OUTPUT_LOG).open("ab") as log:
            child = subprocess.Popen(
                python_command(CHILD_MODULE, "--detached", "--lock-fd", str(lock.fd)),
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                pass_fds=(lock.fd,),
                env=child_environment(),
            )
        lock.hand_to(child.pid)
    finally:
        lock.release()  # the child's copy of the descriptor holds the run now
    try:
        child.stdin.write(request_line(spec, replace(config, run_dir=str(run_dir))).encode() + b"\n")
        child.stdin.close()
    except OSError:  # it died at once; its output.log says why
        pass
    threading.Thread(target=child.wait, name=f"reap {run_dir.name}", daemon=True).start()
    return Launched(run_dir, child)


def wait_for_start(launched: Launched, timeout_s: float) -> str:
    """Wait until the run has written its RunStarted ("started"), its process ended before
    that ("ended"), or ``timeout_s`` passed ("starting": it loads torch and the data still)."""
    follower = EventFollower(launched.run_dir)
    deadline = time.monotonic() + timeout_s
    while True:
        ended = launched.exit_status is not None  # looked at first: its last events are written by then
        if any(
            isinstance(event, RunStarted) and (event.at is None or event.at >= launched.started_at)
            for event in follower.read_new()
        ):
            return "started"
        if ended and follower.caught_up:
            return "ended"
        if time.monotonic() >= deadline:
            return "starting"
        time.sleep(0.1)
