"""``python -P -m tui_cnn.backend.queue_runner RUNS_DIR``: the queue's runner. It starts the
runs waiting in RUNS_DIR one at a time, first in first out, each as `train --detach` starts
a run (its own session, its lock, output.log), waits for it to end however it ends, and
exits when no run waits. One runner per runs folder (RUNS/.queue-runner.lock); it runs in a
session of its own, so it outlives the terminal that queued the runs, and `ensure_runner`
(called by `train --queue`, `tui-cnn queue run` and the app's start) brings it back after a
reboot. No torch here: each run's own process loads it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..domain.paths import RUNS_DIR
from ..domain.run_dir import new_run_dir
from ..domain.run_lock import lock_held
from ..domain.run_queue import RUNNER_LOCK, RUNNER_LOG, QueueError, enqueue, runner_running, take_next, waiting_runs
from ..domain.run_records import RunRequest
from ..domain.slurm import REQUEST_FILE
from ..domain.spec import ModelSpec
from ..domain.train_config import TrainConfig
from .launch import child_environment, request_line, start_detached

#: How often the runner looks whether the run it started has ended.
LOOK_EVERY_S = 0.1


def queue_run(spec: ModelSpec, config: TrainConfig, base: str | Path = RUNS_DIR) -> tuple[Path, int]:
    """Add a run to the queue of its runs folder (``config.run_dir``'s parent, else ``base``)
    and make sure a runner works through it: (its run directory, its position). QueueError
    for a run directory already in use; OSError when it cannot be written."""
    if config.run_dir:
        run_dir = Path(config.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        if any(run_dir.iterdir()):
            raise QueueError(f"{run_dir} is not empty: queue a run into a new folder (or leave out --run-dir)")
    else:
        run_dir = new_run_dir(spec.name, base)
    place = enqueue(run_dir, request_line(spec, replace(config, run_dir=str(run_dir))))
    ensure_runner(run_dir.parent)
    return run_dir, place


def ensure_runner(base: str | Path) -> bool:
    """Start the runner of ``base`` when runs wait and none runs; whether one was started."""
    if not waiting_runs(base) or runner_running(base):
        return False
    with open(Path(base) / RUNNER_LOG, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-P", "-m", "tui_cnn.backend.queue_runner", str(base)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=child_environment(),
        )
    return True


def _hold_runner_lock(base: Path) -> int | None:
    """The runner lock, or None when another runner has it (a few tries: a probe by
    ``runner_running`` holds it for an instant)."""
    fd = os.open(base / RUNNER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            time.sleep(0.1)
    os.close(fd)
    return None


def run_queue(base: Path, log=print) -> int:
    """Start the waiting runs one at a time until none waits; the number started."""
    started = 0
    while (run_dir := take_next(base)) is not None:
        try:
            request = RunRequest.decode((run_dir / REQUEST_FILE).read_bytes())
            spec, config = request.model_source(), request.config
            launched = start_detached(spec, config)
        except Exception as exc:  # noqa: BLE001 - one run that cannot start must not stop the queue
            log(f"{run_dir}: could not start: {type(exc).__name__}: {exc}")
            (run_dir / "output.log").write_text(f"tui-cnn: training failed: the queue could not start it: {exc}\n")
            continue
        started += 1
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S')} started {run_dir} (pid {launched.process.pid})")
        _wait_until_it_lets_go(launched)
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {run_dir} ended")
    return started


def _wait_until_it_lets_go(launched) -> None:
    """Until the run's process has let go of its directory (it does so last, after its end
    event) or has ended. Not its exit: tearing down a process that loaded torch takes seconds
    more, which the next run need not wait for."""
    while launched.exit_status is None:
        if lock_held(launched.run_dir) is False:
            return
        time.sleep(LOOK_EVERY_S)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -P -m tui_cnn.backend.queue_runner RUNS_DIR", file=sys.stderr)
        return 2
    base = Path(argv[0])
    while True:
        lock = _hold_runner_lock(base)
        if lock is None:
            return 0  # another runner has the queue
        try:
            run_queue(base, log=lambda line: print(line, flush=True))
        finally:
            os.close(lock)
        # A run queued while this runner was letting go found it still holding the lock and
        # started no other: look once more, now that it is free.
        if not waiting_runs(base):
            return 0


if __name__ == "__main__":
    sys.exit(main())
