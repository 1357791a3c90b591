"""The training engine in a child process whose events come back through a pipe:
``TrainingProcess`` (the parent's side, no torch) starts ``python -P -m
tui_cnn.backend.child`` (the engine's side) and relays its events. `tui-cnn train
--headless --nproc-per-node N` uses it to run torchrun and print rank 0's events. (The app
does not: a run it starts trains detached, see ``backend.launch``, and the monitor follows
its run directory.)

The protocol is JSON lines. The parent writes one request line to the child's stdin
(``{"spec": ..., "config": ...}``), then control lines (``stop``, ``pause``, ``resume``);
the end of stdin means the parent went away (killed, its terminal closed): the run goes on,
in its own session, steered through its run directory from then on (control.json). The
child writes every event to stdout as in ``events.jsonl``; anything else it prints goes to
stderr, whose tail explains a child that dies without saying why.

With ``nproc_per_node`` > 1 the child is torchrun, which starts that many ranks of the child
module (``backend.distributed``); they inherit its stdin and stdout, and rank 0 alone reads
the request and the controls and writes events, so the protocol is the same. This process
then holds the run directory's lock for the group (its ranks are torchrun's children, not
this one's), and tells rank 0 so through the environment (``domain.run_lock``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import IO

from ..domain.run_events import Failed, Finished, Stopped, TrainingEvent, event_from_line
from ..domain.run_lock import RunLock, RunLocked, environment_holding
from ..domain.spec import ModelSpec
from ..domain.train_config import TrainConfig
from .launch import (  # noqa: F401 - tests' names
    CHILD_MODULE,
    child_environment,
    claim_run_dir,
    launch_command,
    launch_environment,
    python_command,
    request_line,
)

Listener = Callable[[TrainingEvent], None]
ENDINGS = (Finished, Stopped, Failed)


class TrainingProcess:
    """One training run in a child process, controlled like ``backend.trainer.Trainer``:
    ``run()`` blocks until the run ends and hands every event to ``listener`` (from the
    calling thread); ``stop``, ``pause`` and ``resume`` may come from any thread."""

    def __init__(self, spec: ModelSpec, config: TrainConfig, listener: Listener, lock: RunLock | None = None):
        """``lock``: the run directory's, when this process already holds it (a detached run's
        process); with several ranks it is otherwise taken here, for them."""
        self.spec, self.config, self.listener, self.run_lock = spec, config, listener, lock
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        #: Controls asked before the child existed, sent once it does. Whether the run is
        #: paused or stopped is the run's to say (its events), not a flag kept here.
        self._early_controls: list[str] = []

    def stop(self) -> None:
        self._send("stop")

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def run(self) -> None:
        """Start the child, relay its events until its stdout closes, and say why if it
        ended without a last event of its own (killed, crashed, torch failing to load)."""
        processes = self.config.nproc_per_node
        problem = too_many_processes(processes, self.config.device)
        if problem:
            self.listener(Failed(problem))
            return
        config, env = self.config, child_environment()
        if processes > 1:  # the ranks are torchrun's children: this process holds the run for them
            try:
                self.run_lock = self.run_lock or claim_run_dir(self.spec, self.config)
            except RunLocked as exc:
                self.listener(Failed(str(exc)))
                return
            except OSError as exc:
                self.listener(
                    Failed(
                        f"cannot make the run directory {self.config.run_dir or 'under runs/'}: "
                        f"{exc.strerror or exc}; choose another with --run-dir"
                    )
                )
                return
            config = replace(config, run_dir=str(self.run_lock.run_dir))
            env = environment_holding(self.run_lock.run_dir, launch_environment(processes))
        command = python_command(CHILD_MODULE) if processes == 1 else launch_command(processes)
        try:
            self._run_child([*command, "--device", config.device], request_line(self.spec, config), env)
        finally:
            if self.run_lock is not None:
                self.run_lock.release()

    def _run_child(self, command: list[str], request: str, env: dict[str, str]) -> None:
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
            with self._lock:
                # A session of its own: a terminal's Ctrl+C or hang-up reaches the app, which
                # stops the run itself when it quits; an app killed outright leaves it training.
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    encoding="utf-8",
                    bufsize=1,
                    start_new_session=True,
                    env=env,
                )
                self._write(request)
                for control in self._early_controls:
                    self._write(control)
            try:
                ended = self._relay_events(self._process.stdout)
            finally:
                with self._lock:
                    self._process.stdin.close()
                status = self._process.wait()
            if not ended:
                stderr.seek(0)
                self.listener(Failed(_death_notice(status, stderr.read())))

    def _relay_events(self, lines: IO[str]) -> bool:
        ended = False
        for line in lines:
            event = event_from_line(line)
            if event is None:
                continue  # not an event: the protocol reads past it
            ended = ended or isinstance(event, ENDINGS)
            self.listener(event)
        return ended

    def _send(self, control: str) -> None:
        with self._lock:
            if self._process is None:
                self._early_controls.append(control)
            else:
                self._write(control)

    def _write(self, line: str) -> None:
        """One line to the child; a child that has already gone needs no more orders."""
        try:
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()
        except (OSError, ValueError):  # a broken pipe, or stdin already closed
            pass


def _death_notice(status: int, stderr: str) -> str:
    """Why the child ended, in one line: how it ended and the last line it wrote to stderr
    (a traceback's last line names the error)."""
    how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"the training process ended without a word ({how})" + (f": {last}" if last else "")


def too_many_processes(nproc_per_node: int, device: str) -> str | None:
    """Why this machine cannot take ``nproc_per_node`` ranks, checked before torchrun starts
    them all: one per GPU, and on the CPU no more than its cores (more only share the same
    cores, each holding its own copy of torch and the data)."""
    from .devices import gpu_count

    if nproc_per_node == 1:
        return None
    gpus = gpu_count() if device in ("auto", "cuda") else 0
    if gpus == 0 and device == "cuda":
        return None  # the engine says plainly that CUDA is missing
    limit, what = (gpus, "GPUs") if gpus else (os.cpu_count() or 1, "CPU cores")
    if nproc_per_node <= limit:
        return None
    return (
        f"--nproc-per-node {nproc_per_node} asks for more processes than this machine has {what} ({limit}): "
        f"use --nproc-per-node {limit} or fewer"
    )
