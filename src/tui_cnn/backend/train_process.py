"""The training engine in a child process whose events come back through a pipe:
``TrainingProcess`` (the parent's side, no torch) starts ``python -m
tui_cnn.backend.train_process`` (the engine's side) and relays its events. `tui-cnn train
--headless --nproc-per-node N` uses it to run torchrun and print rank 0's events. (The app
does not: a run it starts trains detached, see ``backend.launch``, and the monitor follows
its run directory.)

The protocol is JSON lines. The parent writes one request line to the child's stdin
(``{"spec": ..., "config": ...}``), then control lines (``stop``, ``pause``, ``resume``);
the end of stdin means the parent went away (killed, its terminal closed): the run goes on,
in its own session, steered through its run directory from then on (control.json). The
child writes every event to stdout as in ``events.jsonl``; anything else it prints goes to
stderr, whose tail explains a child that dies without saying why.

With ``nproc_per_node`` > 1 the child is torchrun, which starts that many ranks of this
module (``backend.distributed``); they inherit its stdin and stdout, and rank 0 alone reads
the request and the controls and writes events, so the protocol is the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO

from ..domain.spec import ModelSpec
from ..domain.specfile import spec_to_dict
from ..domain.training import (BatchProgress, Failed, Finished, RunRequest, Stopped, TrainConfig, TrainingEvent,
                               event_from_line, event_to_json)

Listener = Callable[[TrainingEvent], None]
CONTROLS = ("stop", "pause", "resume")
ENDINGS = (Finished, Stopped, Failed)
PROGRESS_FLUSH_S = 0.25  # the app redraws 4 times a second


class TrainingProcess:
    """One training run in a child process, controlled like ``backend.trainer.Trainer``:
    ``run()`` blocks until the run ends and hands every event to ``listener`` (from the
    calling thread); ``stop``, ``pause`` and ``resume`` may come from any thread."""

    def __init__(self, spec: ModelSpec, config: TrainConfig, listener: Listener):
        self.spec, self.config, self.listener = spec, config, listener
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
        request = RunRequest(spec_to_dict(self.spec), self.config).encode()
        processes = self.config.nproc_per_node
        problem = too_many_processes(processes, self.config.device)
        if problem:
            self.listener(Failed(problem))
            return
        command = [sys.executable, "-m", __name__] if processes == 1 else launch_command(processes, __name__)
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
            with self._lock:
                # A session of its own: a terminal's Ctrl+C or hang-up reaches the app, which
                # stops the run itself when it quits; an app killed outright leaves it training.
                self._process = subprocess.Popen(
                    [*command, "--device", self.config.device], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=stderr, text=True, encoding="utf-8", bufsize=1, start_new_session=True,
                    env=launch_environment(processes) if processes > 1 else None)
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


def launch_command(nproc_per_node: int, module: str) -> list[str]:
    """torchrun on this machine, running ``module`` on ``nproc_per_node`` ranks.
    ``--standalone`` finds a free port for the rendezvous, so runs side by side never clash."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc_per_node}",
            "-m", module]


def under_torchrun() -> bool:
    """True in a process torchrun started as one rank of several (its environment says so)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


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
    return (f"--nproc-per-node {nproc_per_node} asks for more processes than this machine has {what} ({limit}): "
            f"use --nproc-per-node {limit} or fewer")


def launch_environment(nproc_per_node: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The ranks' environment. The cores are shared out (C cores, N ranks: C // N threads
    each, at least one) so that ranks training on the CPU do not fight over cores; ranks
    feeding GPUs need few threads anyway. A thread count the user set is kept."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc_per_node)))
    return env


# --- the child's side ---


def serve(device: str) -> int:
    """Train the requested run, events to stdout, following control lines on stdin. Under
    torchrun, every rank does, and rank 0 alone talks (see the module's docstring)."""
    events_out = _claim_stdout()
    # Rank 0 alone writes the event stream (torchrun's RANK, known before the group is joined).
    write_event = EventWriter(events_out if os.environ.get("RANK", "0") == "0" else None)
    try:
        from .distributed import join_torchrun_group
        from .trainer import Trainer  # torch loads here, in the child

        group = join_torchrun_group(device)
        read_request = lambda: RunRequest.decode(sys.stdin.readline())  # noqa: E731
        request = group.from_main(read_request) if group is not None else read_request()
        trainer = Trainer(request.model_spec(), request.config, [write_event], group=group)
    except Exception as exc:  # noqa: BLE001 - an event says why, as the engine's own failures do
        reason = f"could not start training: {type(exc).__name__}: {exc}"
        write_event(Failed(reason))
        if write_event.out is None:  # a rank other than 0: its stderr is where torchrun's output shows it
            print(reason, file=sys.stderr)
        return 1
    if group is None or group.is_main:
        threading.Thread(target=_follow_controls, args=(trainer,), daemon=True).start()
    trainer.run()
    return finish_rank(trainer, group)


def finish_rank(trainer, group) -> int:  # trainer: backend.trainer.Trainer, group: distributed.Distributed | None
    """This process's exit status. A rank whose run failed exits 1, so torchrun ends the
    other ranks rather than leave them waiting on it; a rank other than 0 says why on stderr
    (rank 0 said it in an event)."""
    failed = isinstance(trainer.ending, Failed)
    if group is not None:
        if failed and not group.is_main:
            print(f"rank {group.rank}: {trainer.ending.reason}", file=sys.stderr)
        group.leave()
    return 1 if failed and group is not None else 0


class EventWriter:
    """Writes events as JSON lines, progress in batches: each write wakes the app, and on a
    machine whose cores training keeps busy every wake-up preempts a training thread (measured:
    the same CPU time in 3 ms slices 16 times a second slowed training 12%, in 12 ms slices
    4 times a second 2%). Other events go at once, with the progress before them."""

    def __init__(self, out: IO[str] | None, flush_every_s: float = PROGRESS_FLUSH_S):
        self.out: IO[str] | None = out
        self.flush_every_s = flush_every_s
        self._lines: list[str] = []
        self._flushed_at = time.monotonic()

    def __call__(self, event: TrainingEvent) -> None:
        if self.out is None:
            return
        self._lines.append(json.dumps(event_to_json(event)) + "\n")
        now = time.monotonic()
        if not isinstance(event, BatchProgress) or now - self._flushed_at >= self.flush_every_s:
            try:
                self.out.write("".join(self._lines))
                self.out.flush()
            except OSError:  # the app is gone (a broken pipe); its closed stdin stops the run
                self.out = None
            self._lines.clear()
            self._flushed_at = now


def _claim_stdout() -> IO[str]:
    """The event stream gets the real stdout; ``print`` (e.g. torchvision's download
    messages) goes to stderr, so nothing else lands among the events."""
    events_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return events_out


def _follow_controls(trainer) -> None:  # trainer: backend.trainer.Trainer
    """The app's controls while it lives. Its stdin closing means the app went away without
    stopping the run (killed, its terminal gone: an app that quits stops the run first): the
    run goes on in its own session, its events in the run directory, steered from there
    (control.json: any app, or tui-cnn stop|pause|resume RUN_DIR)."""
    for line in sys.stdin:
        control = line.strip()
        if control in CONTROLS:
            getattr(trainer, control)()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="the training engine's side of TrainingProcess")
    parser.add_argument("--device", default="auto", help="where to train: ranks join their group before the request")
    sys.exit(serve(parser.parse_args().device))
