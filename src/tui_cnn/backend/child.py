"""``python -P -m tui_cnn.backend.child``: the one entry point of every process tui-cnn trains
in (started by ``backend.launch``; ``-P``: the working directory is not on sys.path). It reads
its request, one JSON line ``{"spec": ..., "config": ...}``, from stdin, then trains, in one
of these modes:

- pipe (the default; ``backend.train_process.TrainingProcess``): events as JSON lines on
  stdout, control lines (``stop``, ``pause``, ``resume``) on stdin after the request. Under
  torchrun every rank runs this mode; rank 0 alone reads and talks;
- ``--detached`` (``backend.launch.start_detached``): output (plain lines, as `train
  --headless` prints to a file) to stdout, which is the run's output.log; steered through the
  run directory (control.json). ``--lock-fd N``: the run directory's lock, taken by the
  launcher and handed down open.

Whatever goes wrong before training can say so is said in one line (an event, or output.log)
and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import IO

from ..domain.run_events import BatchProgress, Failed, TrainingEvent, event_to_json
from ..domain.run_records import RunRequest

CONTROLS = ("stop", "pause", "resume")
PROGRESS_FLUSH_S = 0.25  # the app redraws 4 times a second
EXIT_FAILED = 1


def read_request(stdin: IO[str] | None = None):
    """The model and settings of the run to train, from the first line of stdin (the one
    request record, its types checked: RunFileError or SpecError in one line)."""
    request = RunRequest.decode((stdin or sys.stdin).readline())
    return request.model_source(), request.config


def serve_detached(lock_fd: int | None) -> int:
    """Train the requested run in this process (torchrun under it for several ranks), its
    output plain lines to stdout (output.log). The run directory's lock is ``lock_fd``'s."""
    from ..domain.run_lock import RunLock
    from ..domain.run_report import Reporter

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # belt and braces: no terminal can hang it up
    try:
        spec, config = read_request()
    except Exception as exc:  # noqa: BLE001 - a request it cannot read: one line, in output.log
        print(f"tui-cnn: training failed: an unreadable request ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_FAILED
    lock = RunLock.adopt(config.run_dir, lock_fd) if lock_fd is not None and config.run_dir else None
    reporter = Reporter()
    if config.nproc_per_node > 1:
        from .train_process import TrainingProcess

        TrainingProcess(spec, config, reporter, lock=lock).run()
    else:
        from .trainer import Trainer  # torch loads here

        Trainer(spec, config, [reporter], lock=lock).run()
    from .notify import run_notify_command

    run_notify_command(reporter.state)  # the starter's --notify CMD: started, never waited for
    if reporter.failure is not None:
        print(f"tui-cnn: training failed: {reporter.failure}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    return 0


def serve_request_file(path: str) -> int:
    """A SLURM job's rank (srun torchrun on each node): the request from the run directory
    (the nodes share it), this process one rank of the job's group (or the only one); rank 0
    takes the run directory's lock and writes the run, and its plain lines go to the job's
    output. A job never starts torchrun itself: SLURM placed the ranks already."""
    from ..domain.run_report import Reporter
    from .distributed import join_torchrun_group

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with open(path, encoding="utf-8") as request:
            spec, config = read_request(request)
    except Exception as exc:  # noqa: BLE001 - one line in the job's output
        print(
            f"tui-cnn: training failed: cannot read the request {path} ({type(exc).__name__}: {exc})", file=sys.stderr
        )
        return EXIT_FAILED
    from .trainer import Trainer  # torch loads here

    group = join_torchrun_group(config.device)
    reporter = Reporter() if group is None or group.is_main else None
    trainer = Trainer(spec, config, [reporter] if reporter else [], group=group)
    trainer.run()
    if reporter is not None:
        from .notify import run_notify_command

        run_notify_command(reporter.state)
        if reporter.failure is not None:
            print(f"tui-cnn: training failed: {reporter.failure}", file=sys.stderr, flush=True)
    failed = reporter is not None and reporter.failure is not None
    return finish_rank(trainer, group) or (EXIT_FAILED if failed else 0)  # SLURM then says FAILED too


def serve_pipe(device: str) -> int:
    """Train the requested run, events to stdout, following control lines on stdin. Under
    torchrun, every rank does, and rank 0 alone talks (see backend.train_process)."""
    events_out = _claim_stdout()
    # Rank 0 alone writes the event stream (torchrun's RANK, known before the group is joined).
    write_event = EventWriter(events_out if os.environ.get("RANK", "0") == "0" else None)
    try:
        from .distributed import join_torchrun_group
        from .trainer import Trainer  # torch loads here, in the child

        group = join_torchrun_group(device)
        spec, config = group.from_main(read_request) if group is not None else read_request()
        trainer = Trainer(spec, config, [write_event], group=group)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -P -m tui_cnn.backend.child",
        description="the training process of a tui-cnn run (see the module's docstring)",
    )
    parser.add_argument("--device", default="auto", help="pipe mode: where to train (ranks join their group first)")
    parser.add_argument("--detached", action="store_true", help="output to stdout (output.log), no event pipe")
    parser.add_argument("--lock-fd", type=int, default=None, help="the run directory's lock, handed down open")
    parser.add_argument("--request", default=None, help="a SLURM job's rank: the request in this file (request.json)")
    options = parser.parse_args(argv)
    if options.request:
        return serve_request_file(options.request)
    return serve_detached(options.lock_fd) if options.detached else serve_pipe(options.device)


if __name__ == "__main__":
    sys.exit(main())
