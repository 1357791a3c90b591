"""Your own training loop as a tui-cnn run: ``tui_cnn.init`` makes a run directory that the
monitor, the Runs screen, Compare, ``tui-cnn runs`` and ``tui-cnn attach`` follow as they
follow a run tui-cnn trains, with the same files written through the same records and
writer (``domain.run_writer``)::

    import tui_cnn

    with tui_cnn.init(run_dir="runs/mine", config={"lr": 0.1}, epochs=3) as run:
        for epoch in range(1, 4):
            ...
            run.log({"train_loss": loss, "val_acc": acc}, epoch=epoch)
        run.finish(test_accuracy=0.8)

Pure Python over the domain (no torch, no Textual): a script pays a few msgspec and psutil
imports for it. The run directory's lock is held for the script's life, so a killed script
is a crashed run, as a killed trainer is; leaving the ``with`` block by an exception ends
the run failed with the exception's message.
"""

from __future__ import annotations

import atexit
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal, Mapping, overload

import msgspec

from .domain.paths import RUNS_DIR
from .domain.run_dir import new_run_dir
from .domain.run_events import (
    BatchProgress,
    EpochEnd,
    Evaluated,
    Failed,
    Finished,
    LogMessage,
    Paused,
    Resumed,
    RunStarted,
    Stopped,
    TrainingEvent,
)
from .domain.run_lock import RunLock, RunLocked
from .domain.run_records import DatasetRecord, DeviceRecord, EpochMetrics, Evaluation, RunConfigFile
from .domain.run_writer import ControlWatcher, RunRecorder, write_evaluation, write_process, write_record

#: The keys of ``run.log`` that fill the monitor's columns (EpochMetrics' figures); any other
#: key is kept in the epoch's ``extra``.
KNOWN_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s", "images_per_s")
LOSS_SMOOTHING = 0.9  # weight of the past in the smoothed batch loss, as the trainer's


class RunRefused(RuntimeError):
    """A run that cannot start (its directory taken by a live process, or holding a run
    already, or not writable), in one line."""


class UsageError(ValueError):
    """A call the run cannot take (a figure that is not a number, a run already ended), in one line."""


def init(
    run_dir: str | os.PathLike[str] | None = None,
    config: Mapping[str, Any] | None = None,
    epochs: int | None = None,
    *,
    name: str | None = None,
    model: Any = None,
    dataset: str = "",
    batches_per_epoch: int = 0,
    device: Any = "",
    runs_dir: str | os.PathLike[str] = RUNS_DIR,
    progress_every: int = 10,
) -> "Run":
    """Start a run of your own training loop; use it as a context manager (``with``).

    ``run_dir``: the run's folder (made if missing; refused when it holds a run already);
    default ``<runs_dir>/<date>-<time>-<name>``. ``config``: your settings, kept in config.json
    (Compare shows them). ``epochs``: how many you mean to train (the progress bar's total).
    ``name``: the model's name (default: the script's). ``model``: your nn.Module, to count
    its parameters. ``batches_per_epoch``: the epoch bar's total for ``log_batch``.
    ``device``: where it trains ("cuda", a torch.device: shown beside the run).
    ``progress_every``: ``log_batch`` writes every this many batches (and an epoch's last).
    RunRefused (one line) when the run cannot start."""
    return Run(
        run_dir,
        dict(config or {}),
        epochs,
        name=name,
        model=model,
        dataset=dataset,
        batches_per_epoch=batches_per_epoch,
        device=str(device or ""),
        runs_dir=runs_dir,
        progress_every=progress_every,
    )


class Run:
    """One run of your own loop (made by ``init``). Its methods are for the loop's thread;
    stop and pause commands arrive on a thread of their own (``ControlWatcher``)."""

    def __init__(
        self,
        run_dir,
        config: dict[str, Any],
        epochs: int | None,
        *,
        name: str | None,
        model: Any,
        dataset: str,
        batches_per_epoch: int,
        device: str,
        runs_dir,
        progress_every: int,
    ):
        script = _script()
        self.name = name or (Path(script).stem if script else "") or "run"
        self.epochs = _count(epochs, "epochs")
        self.batches_per_epoch = _count(batches_per_epoch, "batches_per_epoch")
        self.progress_every = max(_count(progress_every, "progress_every") or 1, 1)
        self.config = _plain(config)
        if self.epochs:
            self.config.setdefault("epochs", self.epochs)
        self.run_dir = self._make_run_dir(run_dir, runs_dir, self.name)
        self._lock = self._claim()
        self._ended: TrainingEvent | None = None
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._pause_said = False
        self._epoch = 0  # the last epoch logged
        self._best: tuple[float, int] | None = None  # (val_acc, epoch)
        self._epoch_started = self._started = time.perf_counter()
        self._batch = _BatchCounter()
        try:
            self._write_start(script, model, dataset, device)
        except BaseException:
            self._lock.release()
            raise
        atexit.register(self._at_exit)

    # --- starting ---

    @staticmethod
    def _make_run_dir(run_dir, runs_dir, name: str) -> Path:
        try:
            if run_dir is None:  # claimed by its mkdir: two scripts started in one second get -2
                return new_run_dir(name, runs_dir)
            path = Path(run_dir)
            path.mkdir(parents=True, exist_ok=True)
            return path
        except OSError as exc:
            where = run_dir if run_dir is not None else f"a run directory under {runs_dir}"
            raise RunRefused(f"cannot make {where}: {exc.strerror or exc}") from None

    def _claim(self) -> RunLock:
        """The run directory's lock, held for this process's life (one trainer per run
        directory; a killed script lets go of it and its run reads as crashed)."""
        try:
            lock = RunLock.acquire(self.run_dir)
        except RunLocked as exc:
            raise RunRefused(str(exc)) from None
        except OSError as exc:
            raise RunRefused(f"cannot lock the run directory {self.run_dir}: {exc.strerror or exc}") from None
        if (self.run_dir / "config.json").exists():
            lock.release()
            raise RunRefused(
                f"{self.run_dir} already holds a run: choose another run_dir (or leave it out for "
                f"a new folder under {RUNS_DIR}/)"
            )
        return lock

    def _write_start(self, script: str, model: Any, dataset: str, device: str) -> None:
        """config.json, process.json, the control watcher, then RunStarted: the trainer's order."""
        from . import __version__

        versions = {"tui-cnn": __version__, "python": sys.version.split()[0]}
        record = RunConfigFile(
            spec={"model": {"name": self.name}},
            config=self.config,
            dataset=DatasetRecord(name=dataset),
            device=DeviceRecord(kind=device),
            versions=versions,
            script=script,
        )
        try:
            write_record(self.run_dir / "config.json", record)
            self._process = write_process(self.run_dir)
            self._recorder = RunRecorder(self.run_dir)
        except OSError as exc:
            raise RunRefused(f"cannot write the run directory {self.run_dir}: {exc.strerror or exc}") from None
        self._control = ControlWatcher(
            self.run_dir,
            self._stop.set,
            self._pause.set,
            self._pause.clear,
            applied=self._lock.record.control_seq,
            on_applied=self._record_control,
        )
        self._emit(
            RunStarted(
                str(self.run_dir),
                self.name,
                self.config,
                device,
                "",
                dataset,
                0,
                0,
                0,
                _parameters(model),
                self.epochs or 0,
                self.batches_per_epoch,
                script=script,
            )
        )

    def _record_control(self, seq: int) -> None:
        """process.json says which control commands this run applied (so none is lost or
        obeyed twice), as the trainer's does."""
        self._process = msgspec.structs.replace(self._process, control_seq=seq)
        try:
            write_process(self.run_dir, self._process)
        except OSError:  # a full disk: the command was heard all the same
            pass

    # --- what the loop calls ---

    def log(self, metrics: Mapping[str, float], epoch: int | None = None) -> None:
        """One epoch's figures (default: the epoch after the last one logged). The known keys
        (train_loss, train_acc, val_loss, val_acc, lr, epoch_time_s, images_per_s; accuracies
        as fractions 0..1) fill the monitor's columns; a figure left out is shown as --. Any
        other key is kept (metrics.jsonl's ``extra``; Compare's JSON shows it). The epoch's
        time is the time since the last one unless given."""
        self._check_open()
        epoch = self._epoch + 1 if epoch is None else _count(epoch, "epoch")
        figures = {key: _number(value, key) for key, value in dict(metrics).items()}
        now = time.perf_counter()
        known = {key: figures.pop(key, math.nan) for key in KNOWN_KEYS}
        if math.isnan(known["epoch_time_s"]):
            known["epoch_time_s"] = now - self._epoch_started
        if math.isnan(known["images_per_s"]) and self._batch.epoch == epoch and self._batch.images:
            known["images_per_s"] = self._batch.images / max(known["epoch_time_s"], 1e-9)
        # type: ignore: `known` holds KNOWN_KEYS only, all float fields; mypy matches ** against every field.
        record = EpochMetrics(epoch=epoch, **known, extra=figures)  # type: ignore[arg-type]
        self._epoch, self._epoch_started = epoch, now
        best = math.isfinite(record.val_acc) and (self._best is None or record.val_acc > self._best[0])
        if best:
            self._best = (record.val_acc, epoch)
        self._recorder.record_epoch(record)
        self._emit(EpochEnd(record, best))

    def log_batch(
        self,
        loss: float,
        batch: int | None = None,
        *,
        batches: int | None = None,
        epoch: int | None = None,
        lr: float | None = None,
        images: int | None = None,
    ) -> None:
        """A batch's loss for the monitor's batch plot (``batch``: 1-based within the epoch,
        default the next one; ``batches``: the epoch's count, default ``batches_per_epoch``;
        ``images``: in this batch, for images/s). Written every ``progress_every`` batches
        and at an epoch's last, as the trainer's progress; the smoothed loss counts every one."""
        self._check_open()
        epoch = self._epoch + 1 if epoch is None else _count(epoch, "epoch")
        progress = self._batch.add(epoch, batch, _number(loss, "loss"), images)
        total = _count(batches, "batches") or self.batches_per_epoch or progress.batch
        if progress.batch % self.progress_every and progress.batch != total:
            return
        elapsed = time.perf_counter() - progress.epoch_started
        assert progress.smoothed is not None  # add() has just smoothed this batch's loss in
        self._emit(
            BatchProgress(
                epoch,
                progress.batch,
                max(total, progress.batch),
                progress.step,
                progress.loss,
                progress.smoothed,
                progress.images / max(elapsed, 1e-9),
                math.nan if lr is None else _number(lr, "lr"),
                elapsed,
            )
        )

    def should_stop(self) -> bool:
        """Whether a stop was asked (x in the app, `tui-cnn stop RUN_DIR`): end the loop, and
        the run ends stopped."""
        return self._stop.is_set()

    def paused(self) -> bool:
        """Whether a pause is asked (p in the app, `tui-cnn pause RUN_DIR`) and not yet
        resumed: wait (``while run.paused(): time.sleep(1)``) or call ``wait_while_paused``.
        The monitor shows the run paused once the loop has seen it so."""
        paused = self._pause.is_set() and not self._stop.is_set()
        if paused != self._pause_said and self._ended is None:
            self._pause_said = paused
            if paused or not self._stop.is_set():  # a stop ends a pause: the run ends stopped, not resumed
                self._emit(Paused() if paused else Resumed())
        return paused

    def wait_while_paused(self, poll_s: float = 0.25) -> bool:
        """Block while paused; False once a stop was asked (end the loop), else True."""
        while self.paused():
            time.sleep(poll_s)
        return not self.should_stop()

    def note(self, message: str, level: str = "info") -> None:
        """A line for the monitor's log (level: info, warning or error)."""
        self._check_open()
        self._emit(LogMessage(str(message), level if level in ("info", "warning", "error") else "info"))

    def finish(
        self,
        test_accuracy: float | None = None,
        *,
        confusion_matrix: list[list[int]] | None = None,
        classes: list[str] | None = None,
    ) -> None:
        """End the run: eval.json with the test accuracy (and a confusion matrix, rows the
        true classes, when given), then Finished. A run asked to stop before its last epoch
        ends stopped instead (its evaluation kept all the same)."""
        self._check_open()
        if test_accuracy is not None or confusion_matrix is not None:
            evaluation = _evaluation(test_accuracy, confusion_matrix, classes)
            write_evaluation(self.run_dir, evaluation)
            self._emit(Evaluated(evaluation))
        self._end()

    def fail(self, reason: str) -> None:
        """End the run failed, with ``reason`` (one line) for the monitor and Runs."""
        self._check_open()
        self._end(Failed(_one_line(reason) or "failed"))

    @property
    def ended(self) -> bool:
        return self._ended is not None

    # --- the with block, and the script's end ---

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, kind, error, traceback) -> Literal[False]:
        if self._ended is None:
            if kind is None:
                self._end()
            elif issubclass(kind, KeyboardInterrupt):
                self._end(Stopped(self._epoch + 1, None))
            else:
                self._end(Failed(_exception_line(error)))
        return False  # an exception goes on up

    def _at_exit(self) -> None:
        """A script that ended without ``finish`` or a ``with`` block: finished, or failed
        with the exception that ended it (Python keeps it in sys.last_value)."""
        if self._ended is None:
            error = getattr(sys, "last_value", None)
            self._end(Failed(_exception_line(error)) if error is not None else None)

    def _end(self, event: TrainingEvent | None = None) -> None:
        """The end event, then let go of the run (last: the end is written before it looks free)."""
        if event is None:
            stopped_early = self._stop.is_set() and (not self.epochs or self._epoch < self.epochs)
            event = (
                Stopped(self._epoch + 1, None)
                if stopped_early
                else Finished(
                    self._best[1] if self._best else 0,
                    self._best[0] if self._best else math.nan,
                    time.perf_counter() - self._started,
                )
            )  # no val_acc logged: no best epoch
        try:
            self._emit(event)
        finally:
            self._ended = event
            self._control.close()
            self._recorder.close()
            self._lock.release()
            atexit.unregister(self._at_exit)

    def _check_open(self) -> None:
        if self._ended is not None:
            raise UsageError(
                f"the run in {self.run_dir} has ended ({type(self._ended).__name__.lower()}): "
                "start another with tui_cnn.init"
            )

    def _emit(self, event: TrainingEvent) -> None:
        if event.at is None:
            event = msgspec.structs.replace(event, at=time.time())
        self._recorder.record_event(event)

    def __repr__(self) -> str:
        return f"<tui_cnn run {self.run_dir}>"


class _BatchCounter:
    """The batches of the epoch being trained, for the batch plot's progress events."""

    def __init__(self) -> None:
        self.epoch, self.batch, self.step, self.images = 0, 0, 0, 0
        self.smoothed: float | None  # None until the first batch's loss
        self.loss, self.smoothed = math.nan, None
        self.epoch_started = time.perf_counter()

    def add(self, epoch: int, batch: int | None, loss: float, images: int | None) -> "_BatchCounter":
        if epoch != self.epoch:
            self.epoch, self.batch, self.images, self.epoch_started = epoch, 0, 0, time.perf_counter()
        self.batch = self.batch + 1 if batch is None else _count(batch, "batch")
        self.step += 1
        self.images += _count(images, "images") or 0
        self.loss = loss
        self.smoothed = (
            loss
            if self.smoothed is None or not math.isfinite(self.smoothed)
            else LOSS_SMOOTHING * self.smoothed + (1 - LOSS_SMOOTHING) * loss
        )
        return self


def _evaluation(accuracy: float | None, matrix: list[list[int]] | None, classes: list[str] | None) -> Evaluation:
    rows = [[_count(cell, "confusion_matrix") or 0 for cell in row] for row in matrix or []]
    # type: ignore: a mypy false positive, it takes `sum` in a condition's `and` for its bool overload.
    per_class = [
        row[i] / sum(row) if i < len(row) and sum(row) else math.nan  # type: ignore[arg-type]
        for i, row in enumerate(rows)
    ]
    if accuracy is None:
        tested = sum(map(sum, rows))
        accuracy = sum(row[i] for i, row in enumerate(rows) if i < len(row)) / tested if tested else math.nan
    return Evaluation(_number(accuracy, "test_accuracy"), per_class, rows, [str(name) for name in classes or []])


def _number(value: Any, name: str) -> float:
    """A figure as a float: a Python number, a numpy scalar or a one-element tensor (its
    ``item()``); UsageError for anything else."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (int, float)):
        try:
            value = item()
        except (TypeError, ValueError, RuntimeError):
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number, not {type(value).__name__} ({str(value)[:40]!r})")
    return float(value)


# None stays None, anything else is a count or a UsageError: the overloads tell a type checker so.
@overload
def _count(value: None, name: str) -> None: ...
@overload
def _count(value: int, name: str) -> int: ...
@overload
def _count(value: int | None, name: str) -> int | None: ...
def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be a whole number, 0 or more, not {value!r}")
    return value


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """Your settings as JSON can hold them: what it cannot (a device, a path) as its text."""
    return msgspec.to_builtins({str(key): value for key, value in config.items()}, str_keys=True, enc_hook=str)


def _parameters(model: Any) -> int:
    """An nn.Module's parameter count, without importing torch (0 without one)."""
    try:
        return sum(int(parameter.numel()) for parameter in model.parameters()) if model is not None else 0
    except (AttributeError, TypeError):
        return 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def _exception_line(error: BaseException | None) -> str:
    """``ValueError: the batch was empty``: the exception's one-line message."""
    if error is None:
        return "the script failed"
    message = _one_line(str(error))
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _script() -> str:
    """The running script, as it was started (its absolute path; "" in an interactive session)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else "")
    return os.path.abspath(path) if path else ""
