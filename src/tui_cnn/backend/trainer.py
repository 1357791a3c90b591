"""The training engine. One ``Trainer`` trains one spec with one ``TrainConfig``, writes the
run directory as it goes, and tells its listeners what happens through the events of
``tui_cnn.domain.run_events``.

Speed: the data lives on the device (``backend.data``), and the loop never waits for the
device on a batch it does not report on: losses and predictions of the batches since the
last progress event are kept as device tensors and read in one sync every
``progress_every`` batches. Events, metrics and checkpoints happen at those syncs and at
epoch ends only.

Failures are events, never exceptions: ``run()`` returns after emitting ``Failed`` with
the reason in plain words (out of memory, a NaN loss, missing data, a bad spec...).
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import msgspec
import torch
import torch.nn.functional as F
from torch import nn

from ..domain.datasets import check_spec_matches
from ..domain.format import count
from ..domain.model_source import ModelSource, ModuleSource, source_to_dict
from ..domain.run_dir import BEST_CHECKPOINT, LAST_CHECKPOINT, new_run_dir, run_dir_name
from ..domain.run_events import (
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
from ..domain.run_lock import RunLock, RunLocked, held_for_me, read_lock_record
from ..domain.run_records import DatasetRecord, EpochMetrics, ProcessRecord, RunConfigFile, decode, to_json
from ..domain.train_config import TrainConfig
from . import faults, runs
from .build import InvalidSpecError, build_model, count_parameters
from .data import DeviceData, MissingDataError, load_data
from .devices import describe_device, peak_resident_bytes, resolve_device
from .distributed import PAUSED_POLL_S, Distributed, lost_a_rank
from .evaluate import evaluate, validate
from .track_process import TrackError
from .user_module import build_module, changed_note, check_module, keep_sources

Listener = Callable[[TrainingEvent], None]
EVAL_BATCH_SIZE = 1024
LOSS_SMOOTHING = 0.9  # weight of the past in the smoothed loss


class TrainingFailed(Exception):
    """Raised inside the engine, caught by ``run()`` and turned into a ``Failed`` event."""

    def __init__(self, reason: str, step: int | None = None):
        super().__init__(reason)
        self.reason, self.step = reason, step


@dataclass
class _Progress:
    """Where the run stands: what a checkpoint saves and a resume restores."""

    epoch: int = 0  # epochs completed
    batches_done: int = 0  # batches of the next epoch already trained (a run stopped mid-epoch)
    step: int = 0  # optimizer steps taken
    best_val_acc: float = -1.0
    best_epoch: int = 0
    smoothed_loss: float | None = None
    # The stopped epoch's sums so far, so that once resumed its figures (train loss and
    # accuracy, images/s) cover the whole epoch, not only the part after the resume.
    epoch_loss_sum: float = 0.0
    epoch_correct: int = 0
    epoch_trained: int = 0
    epoch_train_s: float = 0.0
    #: every finished epoch's EpochMetrics (as JSON): a resume rewrites metrics.jsonl from it,
    #: so the checkpoint alone says what the run did (empty in checkpoints from before it)
    history: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> list[EpochMetrics]:
        return [decode(line, EpochMetrics, "checkpoint history") for line in self.history]


class Trainer:
    """``group``: this process's place in a distributed run (``backend.distributed``); None
    for a run on one process. Every rank runs a Trainer; rank 0's writes and emits."""

    def __init__(
        self,
        spec: ModelSource,
        config: TrainConfig,
        listeners: Sequence[Listener] = (),
        *,
        resume: str | Path | None = None,
        group: Distributed | None = None,
        lock: RunLock | None = None,
    ):
        """``lock``: the run directory's lock, taken by whoever started this process (see
        backend.launch); otherwise the trainer takes it itself (rank 0)."""
        self.spec, self.config, self.group = spec, config, group
        self.writes = group is None or group.is_main
        self.listeners = list(listeners) if self.writes else []
        resume = resume or config.resume
        self.resume_dir = Path(resume) if resume else None
        if self.resume_dir is not None:
            self.run_dir = self.resume_dir
        else:
            # A new automatic folder is made (and named, -2 when taken) once the run is sure to start.
            self.run_dir = Path(config.run_dir) if config.run_dir else run_dir_name(spec.name)
        self._lock = lock
        self._module_files: list[str] = []  # a module run's files from the working directory, to keep
        self._process: ProcessRecord | None = None  # process.json as this trainer wrote it
        self._stop_requested = threading.Event()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._recorder: runs.RunRecorder | None = None
        self._control: runs.ControlWatcher | None = None  # control.json: any app or CLI steers the run
        self._progress = _Progress()
        self._committed = 0  # the last epoch whose checkpoint is on the disk
        self.ending: Finished | Stopped | Failed | None = None  # how run() ended, on every rank

    # --- control, from any thread; the loop looks once per batch ---

    def stop(self) -> None:
        """Stop after the current batch; the checkpoint is kept."""
        self._stop_requested.set()
        self._unpaused.set()

    def pause(self) -> None:
        if not self._stop_requested.is_set():  # a stop asked before stays a stop
            self._unpaused.clear()

    def resume(self) -> None:
        self._unpaused.set()

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    # --- the run ---

    def run(self) -> None:
        """Train to the end, a stop, or a failure; emit events all the way. Never raises
        for training problems."""
        try:
            self._run()
        except TrainingFailed as failure:
            self._emit(Failed(failure.reason, failure.step))
        except runs.RunDirError as exc:  # a full disk, a read-only or vanished run directory
            self._emit(Failed(f"{exc}: {self._what_is_kept()}", self._progress.step or None))
        except Exception as exc:  # noqa: BLE001 - any failure is an event, never a crash of the caller
            self._emit(self._failure(exc))
        finally:
            if self._control is not None:
                self._control.close()
            if self._recorder is not None:
                self._recorder.close()
            if self._lock is not None:  # last: the end event is written before the run looks free
                self._lock.release()

    def _what_is_kept(self) -> str:
        """After a failed write: what the run directory still holds, and what to do."""
        if self._committed:
            return (
                f"the checkpoint of epoch {self._committed} is kept; once the disk has room (and is writable), "
                f"continue with tui-cnn train --resume {self.run_dir}"
            )
        return "no epoch was saved; free space on the disk (or make it writable), or choose another --run-dir"

    def _failure(self, exc: Exception) -> Failed:
        step = self._progress.step or None
        if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc):
            size = self.config.batch_size
            return Failed(f"out of memory at batch size {size}: try --batch-size {max(size // 2, 1)}", step)
        if self.group is not None and lost_a_rank(exc):
            self._emit(LogMessage(str(exc), "error"))
            return Failed(
                "another process of this run stopped answering (it crashed or was killed; its own output "
                "says why): the checkpoint of the last finished epoch is kept, continue with "
                f"--resume {self.run_dir}",
                step,
            )
        self._emit(LogMessage("".join(traceback.format_exception(exc)), "error"))
        return Failed(f"unexpected error: {type(exc).__name__}: {exc}", step)

    def _run(self) -> None:
        started = time.perf_counter()
        loop = self._prepare()
        self._on_main(lambda: self._open_run_dir(loop))
        for epoch in range(self._progress.epoch + 1, self.config.epochs + 1):
            if not self._train_epoch(loop, epoch):
                path = self._checkpoint(loop, LAST_CHECKPOINT)
                self._emit(Stopped(epoch, str(path)))
                return
            self._end_epoch(loop, epoch)
        self._answer_late_control()
        scored = self._load_best_weights(loop)
        evaluation = evaluate(loop.model, loop.data, EVAL_BATCH_SIZE, loop.autocast, self.group)
        evaluation = msgspec.structs.replace(evaluation, epoch=scored)
        if self.writes:
            runs.write_evaluation(self.run_dir, evaluation)
        self._emit(Evaluated(evaluation))
        self._emit(Finished(self._progress.best_epoch, self._progress.best_val_acc, time.perf_counter() - started))

    def _load_best_weights(self, loop: "_Loop") -> int:
        """The test split scores the best validation epoch's weights, those of
        checkpoint-best.pt (what the run reports as its result and Inspect shows), not the
        last epoch's. Returns the epoch scored."""
        progress = self._progress
        if progress.best_epoch in (0, progress.epoch):
            return progress.epoch  # the weights in hand are the best
        path = self.run_dir / BEST_CHECKPOINT

        def read() -> dict[str, Any] | None:
            try:
                return runs.load_checkpoint(path, loop.device if self.group is None else "cpu")
            except (OSError, runs.CheckpointError):
                return None

        state = self._on_main(read)
        if state is None:
            self._emit(
                LogMessage(
                    f"{path} cannot be read: the test split scores the last epoch's weights "
                    "instead of the best epoch's",
                    "warning",
                )
            )
            return progress.epoch
        loop.model.load_state_dict(state["model"])
        return progress.best_epoch

    def _answer_late_control(self) -> None:
        """A stop or pause is looked at before each batch, so one that comes after the last
        batch's look (x pressed during the last batch, the last validation or checkpoint)
        finds nothing left to stop: the run evaluates and finishes. Say so, or the monitor's
        "stopping" would go unanswered while the run finishes."""
        if self._stop_requested.is_set():
            self._emit(
                LogMessage(
                    "the stop came after the last batch: training had already finished, so the run "
                    "is evaluated and ends as finished (its checkpoint is the last epoch's)",
                    "warning",
                )
            )
        elif self.paused:
            self._unpaused.set()  # nothing left to pause: the pause is over, and the state says so
            self._emit(
                LogMessage(
                    "the pause came after the last batch: training had already finished, so the run "
                    "is evaluated and ends as finished",
                    "warning",
                )
            )

    def _prepare(self) -> "_Loop":
        """Everything that can fail before the run directory exists: the configuration, the
        spec, the device, the data, the checkpoint to resume from."""
        config = self.config
        problems = config.validate()
        ranks = self.group.world_size if self.group else 1
        if config.batch_size % ranks:
            problems.append(
                f"the batch size ({config.batch_size}) is the global batch and must divide evenly "
                f"among the {ranks} processes: use --batch-size {config.batch_size // ranks * ranks or ranks}"
            )
        if problems:
            raise TrainingFailed("; ".join(problems))
        self._on_main(self._claim_existing_run_dir)
        device = self._device()
        torch.manual_seed(config.seed)
        model = self._build_model()
        on_cuda = device.startswith("cuda")
        try:
            with self.group.main_first() if self.group else contextlib.nullcontext():  # one unpack or download
                data = load_data(
                    config.dataset,
                    config.data_dir,
                    device,
                    val_fraction=config.val_fraction,
                    seed=config.seed,
                    channels_last=on_cuda,
                    log=lambda text: self._emit(LogMessage(text)),
                    input_shape=tuple(self.spec.input_shape),
                    resize=config.resize,
                )
        except MissingDataError as exc:
            raise TrainingFailed(str(exc)) from None
        batches = data.batches_per_epoch(config.batch_size)
        if batches == 0:
            raise TrainingFailed(
                f"batch size {config.batch_size} is larger than the training set "
                f"({len(data.train)} images): use --batch-size {len(data.train)} or less"
            )
        if on_cuda:
            torch.backends.cudnn.benchmark = True  # every batch has one shape: the tuned kernels pay off
        model.to(device, memory_format=torch.channels_last if on_cuda else torch.preserve_format)
        optimizer = make_optimizer(model, config, fused=on_cuda)
        scheduler = make_scheduler(optimizer, config, batches)
        if self.resume_dir is not None:
            self._restore(model, optimizer, scheduler, device)
        step_model = model
        if self.group is not None:  # averages the gradients over the ranks during backward
            from torch.nn.parallel import DistributedDataParallel

            step_model = DistributedDataParallel(model, device_ids=[torch.device(device).index] if on_cuda else None)
        step_model = torch.compile(step_model) if config.compile else step_model
        return _Loop(model, step_model, optimizer, scheduler, data, self._autocast(device), device)

    def _build_model(self) -> nn.Module:
        """The model, checked against the dataset before any training: a spec's built by
        backend.build, a user's module by its own code (backend.user_module)."""
        config = self.config
        if isinstance(self.spec, ModuleSource):
            try:
                model, self._module_files = build_module(self.spec, self.resume_dir)
            except TrackError as exc:
                raise TrainingFailed(str(exc)) from None
            mismatch = check_module(model, self.spec, config.dataset, config.data_dir)
        else:
            try:
                model = build_model(self.spec)
            except InvalidSpecError as exc:
                raise TrainingFailed(str(exc)) from None
            mismatch = check_spec_matches(self.spec, config.dataset, config.data_dir)
        if mismatch:
            raise TrainingFailed(mismatch)
        return model

    def _on_main(self, task: Callable[[], Any]) -> Any:
        """``task()`` on rank 0 alone (what touches the run directory), with its result or
        failure on every rank; simply ``task()`` on one process."""
        return self.group.from_main(task) if self.group else task()

    def _claim_existing_run_dir(self) -> None:
        """A run to resume is taken before its data loads (a second trainer is refused at
        once); a new run's folder is taken once made (``_open_run_dir``)."""
        if self.resume_dir is not None:
            self._claim_run_dir()
        self._check_run_dir_is_free()

    def _check_run_dir_is_free(self) -> None:
        if self.resume_dir is None and (self.run_dir / "config.json").exists():
            raise TrainingFailed(
                f"{self.run_dir} already holds a run: choose another --run-dir, "
                f"or continue that run with --resume {self.run_dir}"
            )

    def _claim_run_dir(self) -> None:
        """Hold the run directory's lock for the rest of this process's life: one trainer per
        run directory. Already held when this process was handed it, or when the launcher of
        this torchrun group holds it for its ranks."""
        if self._lock is not None or held_for_me(self.run_dir):
            return
        try:
            self._lock = RunLock.acquire(self.run_dir)
        except RunLocked as exc:
            raise TrainingFailed(str(exc)) from None
        except OSError as exc:
            raise TrainingFailed(f"cannot lock the run directory {self.run_dir}: {exc.strerror or exc}") from None

    def _record_control(self, seq: int) -> None:
        """process.json says which control commands this trainer applied (from its control thread)."""
        self._process = msgspec.structs.replace(self._process, control_seq=seq)
        try:
            runs.write_process(self.run_dir, self._process)
        except OSError:  # a full disk: the command was obeyed all the same
            pass

    def _open_run_dir(self, loop: "_Loop") -> None:
        config, data = self.config, loop.data
        try:
            if self.resume_dir is None and not self.config.run_dir:
                self.run_dir = new_run_dir(self.spec.name)
            else:
                self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainingFailed(
                f"cannot make the run directory {self.run_dir}: {exc.strerror or exc}; choose another with --run-dir"
            ) from None
        self._claim_run_dir()
        self._check_run_dir_is_free()  # again, now that no other trainer can write it
        lost_epoch_ends = self._reconcile() if self.resume_dir is not None else []
        info = describe_device(loop.device)
        module_note = None
        if isinstance(self.spec, ModuleSource):
            if self.spec.files:  # a resumed run: its kept copy is what trains
                module_note = changed_note(self.spec, self.run_dir)
            else:
                self.spec = keep_sources(self.spec, self._module_files, self.run_dir)
        dataset = DatasetRecord(
            config.dataset, len(data.train), len(data.val), len(data.test), list(data.info.classes), data.source
        )
        runs.write_config(
            self.run_dir,
            RunConfigFile(
                source_to_dict(self.spec)["spec"],
                config.to_json(),
                dataset,
                info,
                runs.versions(),
                module=self.spec if isinstance(self.spec, ModuleSource) else None,
            ),
        )
        if not isinstance(self.spec, ModuleSource):  # a module's code is its kept source
            runs.write_model_code(self.run_dir, self.spec)
        self._process = runs.write_process(self.run_dir)
        lock = self._lock.record if self._lock is not None else read_lock_record(self.run_dir)
        self._control = runs.ControlWatcher(
            self.run_dir,
            self.stop,
            self.pause,
            self.resume,
            applied=lock.control_seq if lock is not None else 0,
            on_applied=self._record_control,
        )
        self._recorder = runs.RunRecorder(self.run_dir)
        if lost_epoch_ends:
            self._emit(
                LogMessage(
                    f"the end of epoch {', '.join(str(m.epoch) for m, _ in lost_epoch_ends)} was not "
                    "recorded (the run was cut short while saving it): recorded now from its checkpoint",
                    "warning",
                )
            )
        for metrics, best in lost_epoch_ends:
            self._emit(EpochEnd(metrics, best))
        self._emit(
            RunStarted(
                str(self.run_dir),
                self.spec.name,
                config.to_json(),
                info.kind,
                info.name,
                config.dataset,
                len(data.train),
                len(data.val),
                len(data.test),
                count_parameters(loop.model),
                config.epochs,
                data.batches_per_epoch(config.batch_size),
                start_epoch=self._progress.epoch + 1,
                start_batch=self._progress.batches_done,
                processes=self.group.world_size if self.group else 1,
            )
        )
        if module_note:
            self._emit(LogMessage(module_note, "warning"))

    def _reconcile(self) -> list[tuple[EpochMetrics, bool]]:
        """A resumed run's directory made to agree with its checkpoint-last.pt, whatever
        point of an epoch's writes a crash stopped at (``runs.reconcile``). Returns the
        committed epochs whose EpochEnd was never written, with their best flags then, to be
        emitted before the run goes on (the monitor shows every epoch once)."""
        progress = self._progress
        history = progress.metrics()
        lost = {m.epoch for m in runs.reconcile(self.run_dir, progress.epoch, progress.best_epoch, history)}
        ends, best_so_far = [], -1.0
        for metrics in history:
            best = metrics.val_acc > best_so_far
            best_so_far = max(best_so_far, metrics.val_acc)
            if metrics.epoch in lost:
                ends.append((metrics, best))
        return ends

    def _device(self) -> str:
        device = resolve_device(self.config.device)
        if device == "cuda" and not torch.cuda.is_available():
            raise TrainingFailed("CUDA is not available here (no NVIDIA GPU or driver): train on device cpu or auto")
        if device == "mps" and not torch.backends.mps.is_available():
            raise TrainingFailed("Apple MPS is not available here: train on device cpu or auto")
        if self.group is not None:
            if device == "mps":
                raise TrainingFailed(
                    "several processes train on CUDA GPUs or the CPU, not on Apple MPS: use --device cpu or one process"
                )
            return self.group.device(device)
        return device

    def _autocast(self, device: str) -> Callable[[], contextlib.AbstractContextManager]:
        if self.config.amp and device.startswith("cuda"):
            if torch.cuda.is_bf16_supported():
                return functools.partial(torch.autocast, "cuda", dtype=torch.bfloat16)
            self._emit(LogMessage("this GPU has no bfloat16: training in float32", "warning"))
        return contextlib.nullcontext

    # --- one epoch ---

    def _train_epoch(self, loop: "_Loop", epoch: int) -> bool:
        """Train one epoch; False when stopped part-way."""
        config, progress = self.config, self._progress
        batches = loop.data.batches_per_epoch(config.batch_size)
        loop.begin_epoch(progress)
        faults.set_epoch(epoch)
        generator = torch.Generator(device=loop.device).manual_seed(config.seed * 1_000_003 + epoch)
        window: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (loss, logits, labels) not yet read
        shard = (self.group.rank, self.group.world_size) if self.group else (0, 1)
        epoch_batches = loop.data.train_batches(
            config.batch_size, generator, config.augment, skip=progress.batches_done, shard=shard
        )
        for batch, (images, labels) in enumerate(epoch_batches, start=progress.batches_done + 1):
            if not self._may_go_on(loop, batch, batches):
                if window:  # the batches since the last report count in the epoch's sums
                    self._report(loop, window, epoch, batch - 1, batches)
                progress.batches_done = batch - 1
                progress.epoch_loss_sum, progress.epoch_correct = loop.loss_sum, loop.correct
                progress.epoch_trained, progress.epoch_train_s = loop.trained, loop.elapsed()
                return False
            with loop.autocast():
                logits = loop.step_model(images)
                loss = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
            loop.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            loop.optimizer.step()
            if loop.scheduler is not None:
                loop.scheduler.step()
            progress.step += 1
            window.append((loss.detach(), logits.detach(), labels))
            if batch % config.progress_every == 0 or batch == batches:
                self._report(loop, window, epoch, batch, batches)
                window = []
        progress.batches_done = 0
        progress.epoch_loss_sum, progress.epoch_correct, progress.epoch_trained, progress.epoch_train_s = 0.0, 0, 0, 0.0
        return True

    def _may_go_on(self, loop: "_Loop", batch: int, last: int) -> bool:
        """Before each batch: False once stopped; blocks while paused. One process looks at
        its flags every batch; the ranks of a distributed run look at rank 0's flags, all at the
        same batch, right after each progress report: that report has just waited for the
        device, so the broadcast adds no wait of its own to the hot path (on a GPU, a sync
        elsewhere would stall the queue of launched kernels)."""
        if self.group is None:
            return not self._stop_requested.is_set() and self._wait_while_paused(loop)
        # Before an epoch's last batch too (one more broadcast an epoch): otherwise a stop in
        # the last progress_every - 1 batches of the last epoch was never seen by any rank.
        if (batch - 1) % self.config.progress_every and batch != last:
            return True
        return self._follow_main(loop)

    def _follow_main(self, loop: "_Loop") -> bool:
        """Rank 0's orders on every rank. While paused the ranks meet every ``PAUSED_POLL_S``
        (rank 0 waits for its resume or stop that long; the others wait in the broadcast),
        so a long pause never runs into the collectives' timeout."""
        stopped, paused = self.group.control(self._stop_requested.is_set(), self.paused, loop.device)
        if stopped or not paused:
            return not stopped
        self._emit(Paused())
        paused_at = time.perf_counter()
        while paused and not stopped:
            if self.group.is_main:
                self._unpaused.wait(PAUSED_POLL_S)
            stopped, paused = self.group.control(self._stop_requested.is_set(), self.paused, loop.device)
        loop.paused_s += time.perf_counter() - paused_at
        if stopped:
            return False
        self._emit(Resumed())
        return True

    def _wait_while_paused(self, loop: "_Loop") -> bool:
        """Block while paused (the time paused does not count as training time); False if
        stopped meanwhile."""
        if self._unpaused.is_set():
            return True
        self._emit(Paused())
        paused_at = time.perf_counter()
        self._unpaused.wait()
        loop.paused_s += time.perf_counter() - paused_at
        if self._stop_requested.is_set():
            return False
        self._emit(Resumed())
        return True

    def _report(self, loop: "_Loop", window: list, epoch: int, batch: int, batches: int) -> None:
        """The one device sync per ``progress_every`` batches: read the losses and
        predictions since the last report, check them, and emit progress."""
        losses = torch.stack([loss for loss, _, _ in window]).float()
        correct = torch.stack([(logits.argmax(1) == labels).sum() for _, logits, labels in window]).sum()
        if self.group is not None:  # every rank's losses (of equal slices: their mean is the batch's) and hits
            summed = self.group.sum(torch.cat([losses, correct.float().view(1)]))
            losses, correct = summed[:-1] / self.group.world_size, summed[-1]
        losses = losses.tolist()
        loop.correct += int(correct)
        first = self._progress.step - len(losses) + 1
        for offset, value in enumerate(losses):
            if not math.isfinite(value):
                step = first + offset
                raise TrainingFailed(
                    f"the loss became {value} at step {step} (epoch {epoch}, batch {batch - len(losses) + offset + 1})"
                    f": training diverged; lower the learning rate (e.g. --lr {self.config.lr / 10:g})",
                    step,
                )
            smoothed = self._progress.smoothed_loss
            self._progress.smoothed_loss = (
                value if smoothed is None else LOSS_SMOOTHING * smoothed + (1 - LOSS_SMOOTHING) * value
            )
        loop.loss_sum += sum(losses)
        loop.trained += len(losses) * self.config.batch_size
        elapsed = loop.elapsed()
        self._emit(
            BatchProgress(
                epoch,
                batch,
                batches,
                self._progress.step,
                losses[-1],
                self._progress.smoothed_loss,
                loop.trained / max(elapsed, 1e-9),
                loop.lr(),
                elapsed,
            )
        )
        if self.writes:
            faults.fault_point("in-epoch")

    def _end_epoch(self, loop: "_Loop", epoch: int) -> None:
        train_time = loop.elapsed()
        if self.group is not None:
            self.group.broadcast_buffers(loop.model)
        val_loss, val_acc = validate(loop.model, loop.data, EVAL_BATCH_SIZE, loop.autocast, self.group)
        progress = self._progress
        best = val_acc > progress.best_val_acc
        if best:
            progress.best_val_acc, progress.best_epoch = val_acc, epoch
        progress.epoch = epoch
        count = max(loop.trained, 1)
        metrics = EpochMetrics(
            epoch,
            loop.loss_sum * self.config.batch_size / count,
            loop.correct / count,
            val_loss,
            val_acc,
            loop.lr(),
            loop.elapsed(),
            loop.trained / max(train_time, 1e-9),
            loop.peak_memory(),
        )
        progress.history.append(to_json(metrics))
        if self.writes:
            self._commit_epoch(loop, metrics, best)
        self._emit(EpochEnd(metrics, best))
        if self.writes:
            faults.fault_point("after-epoch-end")

    # --- checkpoints ---

    def _commit_epoch(self, loop: "_Loop", metrics: EpochMetrics, best: bool) -> None:
        """An epoch's writes, in the one order that lets a crash between any two of them
        resume exactly (no epoch twice, none missing, checkpoint-best = the best epoch):
        1. checkpoint-best.pt.tmp (a best epoch) and checkpoint-last.pt.tmp, written whole and
           synced; a crash here leaves the previous epoch's state (the .tmp files are removed
           on resume, the epoch trains again);
        2. checkpoint-last.pt renamed into place: the commit point. From here the epoch is
           done, whatever else is lost: a resume starts after it and rebuilds the rest from
           the checkpoint (which holds every epoch's metrics and which one is best);
        3. checkpoint-best.pt renamed into place (a resume finishes a rename cut short);
        4. the epoch's line of metrics.jsonl (a resume rewrites missing lines);
        5. the EpochEnd event (a resume emits a missing one before its RunStarted)."""
        data = runs.serialize_checkpoint(self._checkpoint_state(loop))
        last, best_path = self.run_dir / LAST_CHECKPOINT, self.run_dir / BEST_CHECKPOINT
        try:
            if best:
                runs.stage_checkpoint(best_path, data)
            runs.stage_checkpoint(last, data)
        except runs.RunDirError:
            runs.discard_staged(best_path)  # never to be committed: its room back on a full disk
            raise
        faults.fault_point("after-staging")
        runs.commit_staged(last)
        self._committed = metrics.epoch
        faults.fault_point("after-last")
        if best:
            runs.commit_staged(best_path)
            faults.fault_point("after-best")
        self._recorder.record_epoch(metrics)
        faults.fault_point("after-metrics")

    def _checkpoint(self, loop: "_Loop", name: str) -> Path:
        """Saved once, by rank 0: every rank holds the same weights (DDP keeps them equal)."""
        path = self.run_dir / name
        if self.writes:
            runs.save_checkpoint(path, self._checkpoint_state(loop))
        return path

    def _checkpoint_state(self, loop: "_Loop") -> dict[str, Any]:
        return {
            "model": loop.model.state_dict(),
            "optimizer": loop.optimizer.state_dict(),
            "scheduler": loop.scheduler.state_dict() if loop.scheduler is not None else None,
            "progress": {**self._progress.__dict__, "history": list(self._progress.history)},
            # The training GPU's generator alone: asking every GPU (get_rng_state_all) would open
            # a CUDA context on each, on the GPUs of the other ranks too, or of a CPU run.
            "rng": {
                "cpu": torch.get_rng_state(),
                "cuda": [torch.cuda.get_rng_state(loop.device)] if loop.device.startswith("cuda") else [],
            },
        }

    def _restore(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, device: str) -> None:
        path = self.resume_dir / LAST_CHECKPOINT

        def read() -> dict[str, Any]:  # on rank 0, whose disk holds the run; the others get a copy
            if not path.is_file():
                raise TrainingFailed(f"{self.resume_dir} has no {LAST_CHECKPOINT}: nothing to resume")
            try:
                return runs.load_checkpoint(path, device if self.group is None else "cpu")
            except runs.CheckpointError as exc:
                raise TrainingFailed(f"cannot resume: {exc}") from None

        state = self._on_main(read)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise TrainingFailed(
                f"the checkpoint in {self.resume_dir} is for a different model than "
                f"{self.spec.name}: {str(exc).splitlines()[0]}"
            ) from None
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
        self._progress = _Progress(**state["progress"])
        self._committed = self._progress.epoch
        if self._progress.epoch >= self.config.epochs:
            raise TrainingFailed(
                f"{self.resume_dir} already trained {count(self._progress.epoch, 'epoch')}: "
                f"pass --epochs {self._progress.epoch + 1} or more to train further"
            )
        torch.set_rng_state(state["rng"]["cpu"].cpu())
        if state["rng"]["cuda"] and device.startswith("cuda"):
            torch.cuda.set_rng_state(state["rng"]["cuda"][0].cpu(), device)

    # --- events ---

    def _emit(self, event: TrainingEvent) -> None:
        """To the run's events.jsonl, then to every listener. A listener that raises is
        dropped (and the error logged), so a broken display never stops training."""
        if event.at is None:
            event = msgspec.structs.replace(event, at=time.time())
        if isinstance(event, (Finished, Stopped, Failed)):
            self.ending = event
        if self._recorder is not None:
            try:
                self._recorder.record_event(event)
            except runs.RunDirError:
                # The disk took no more: the run fails (run() says why). Its last words still
                # reach the listeners (a detached run's output.log, a terminal) without a file.
                if not isinstance(event, (Failed, LogMessage)):
                    raise
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001
                self.listeners.remove(listener)
                self._emit(
                    LogMessage(f"a listener failed and gets no more events: {type(exc).__name__}: {exc}", "error")
                )


class _Loop:
    """What the epoch loop works with, and the running sums of the current epoch."""

    def __init__(
        self,
        model: nn.Module,
        step_model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        data: DeviceData,
        autocast: Callable[[], contextlib.AbstractContextManager],
        device: str,
    ):
        self.model, self.step_model, self.optimizer, self.scheduler = model, step_model, optimizer, scheduler
        self.data, self.autocast, self.device = data, autocast, device

    def begin_epoch(self, progress: _Progress) -> None:
        """Sums from zero, or from where a stopped epoch left them (a resume)."""
        self.loss_sum, self.correct, self.trained = (
            progress.epoch_loss_sum,
            progress.epoch_correct,
            progress.epoch_trained,
        )
        self.paused_s, self.carried_s = 0.0, progress.epoch_train_s
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        """Training time of this epoch so far (pauses left out, time before a resume counted)."""
        return time.perf_counter() - self.started - self.paused_s + self.carried_s

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def peak_memory(self) -> int | None:
        if self.device.startswith("cuda"):
            return torch.cuda.max_memory_allocated()
        if self.device == "mps":
            return torch.mps.driver_allocated_memory()
        return peak_resident_bytes()


def make_optimizer(model: nn.Module, config: TrainConfig, fused: bool = False) -> torch.optim.Optimizer:
    params, options = model.parameters(), {"lr": config.lr, "weight_decay": config.weight_decay}
    if fused:
        options["fused"] = True  # one kernel for the whole update on CUDA
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, momentum=config.momentum, nesterov=config.nesterov, **options)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, **options)
    return torch.optim.Adam(params, **options)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, batches_per_epoch: int) -> Any:
    """Schedules step once per batch, so they are smooth even for a one-epoch run."""
    total = config.epochs * batches_per_epoch
    lr_scheduler = torch.optim.lr_scheduler
    if config.schedule == "step":  # a tenth of the rate after each third of the run
        return lr_scheduler.StepLR(optimizer, step_size=max(total // 3, 1), gamma=0.1)
    if config.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config.schedule == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    return None
