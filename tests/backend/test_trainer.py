"""The training engine on tiny data, on the CPU: what it writes, what it emits, how it fails,
and how it is controlled from another thread."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch

from tui_cnn.backend.build import build_model
from tui_cnn.backend.runs import load_checkpoint
from tui_cnn.backend.trainer import Trainer
from tui_cnn.domain.run_events import (
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
)
from tui_cnn.domain.run_files import read_evaluation, read_events, read_metrics, read_run_config
from tui_cnn.domain.spec import LayerSpec

pytestmark = pytest.mark.slow  # every test trains (tiny data, the CPU)

RUN_FILES = {
    "config.json",
    "metrics.jsonl",
    "events.jsonl",
    "checkpoint-last.pt",
    "checkpoint-best.pt",
    "model.py",
    "process.json",
    ".lock",
    "eval.json",
}


def train(spec, config, **kwargs) -> tuple[Trainer, list]:
    events = []
    trainer = Trainer(spec, config, [events.append], **kwargs)
    trainer.run()
    return trainer, events


def of_type(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_a_run_learns_and_writes_every_file(simple_cnn, tiny_config):
    trainer, events = train(simple_cnn, replace(tiny_config, epochs=2))

    assert isinstance(events[0], RunStarted) and isinstance(events[-1], Finished), events[-1]
    assert {p.name for p in trainer.run_dir.iterdir()} == RUN_FILES
    metrics = read_metrics(trainer.run_dir)
    assert [m.epoch for m in metrics] == [1, 2]
    assert metrics[1].train_loss < metrics[0].train_loss
    assert metrics == [e.metrics for e in of_type(events, EpochEnd)]
    assert all(m.peak_mem_bytes > 2**20 for m in metrics)  # torch's on a GPU, the process's resident memory on the CPU
    progress = of_type(events, BatchProgress)
    assert [p.batch for p in progress[:3]] == [2, 4, 6]  # every 2 batches (and the epoch's last)
    evaluation = read_evaluation(trainer.run_dir)
    assert evaluation == of_type(events, Evaluated)[0].evaluation
    assert sum(map(sum, evaluation.confusion_matrix)) == 64 and len(evaluation.per_class_accuracy) == 10
    assert read_events(trainer.run_dir) == events
    # Honest validation: 10% of the 256 training images held out (seeded); the test split
    # (64 images) is scored once, at the end, and picks nothing.
    assert (events[0].train_size, events[0].val_size, events[0].test_size) == (230, 26, 64)
    assert read_run_config(trainer.run_dir).dataset.train_size == 230
    model = build_model(simple_cnn)
    model.load_state_dict(load_checkpoint(trainer.run_dir / "checkpoint-best.pt")["model"])


def test_the_test_split_scores_the_best_epoch_not_the_last(simple_cnn, tiny_config):
    """eval.json is the best validation epoch's (checkpoint-best.pt, what Inspect shows): it
    scored the last epoch's weights, while the run reported the best epoch."""
    import contextlib

    from tui_cnn.backend.data import load_data
    from tui_cnn.backend.evaluate import evaluate

    trainer, events = train(simple_cnn, replace(tiny_config, epochs=3))
    best = of_type(events, Finished)[0].best_epoch
    assert best != 3, "the tiny data is learnt whole in the first epoch: a later one is never strictly better"
    evaluation = read_evaluation(trainer.run_dir)
    assert evaluation.epoch == best
    model = build_model(simple_cnn)
    model.load_state_dict(load_checkpoint(trainer.run_dir / "checkpoint-best.pt")["model"])
    data = load_data("mnist", tiny_config.data_dir, "cpu", val_fraction=tiny_config.val_fraction, seed=0)
    expected = evaluate(model, data, 1024, contextlib.nullcontext)
    assert (evaluation.accuracy, evaluation.confusion_matrix) == (expected.accuracy, expected.confusion_matrix)
    assert evaluation.misclassified == expected.misclassified


def test_resume_continues_at_the_next_epoch(simple_cnn, tiny_config):
    first, _ = train(simple_cnn, tiny_config)
    _, clash = train(simple_cnn, tiny_config)  # the same --run-dir, without resume
    assert "already holds a run" in clash[-1].reason
    _, events = train(simple_cnn, replace(tiny_config, epochs=2), resume=first.run_dir)

    assert events[0].start_epoch == 2 and isinstance(events[-1], Finished)
    assert [m.epoch for m in read_metrics(first.run_dir)] == [1, 2]


def test_same_seed_same_metrics_on_the_cpu(simple_cnn, tiny_config, tmp_path):
    def learned(run_dir):
        _, events = train(simple_cnn, replace(tiny_config, run_dir=str(run_dir), augment=True))
        return [(m.metrics.train_loss, m.metrics.val_loss, m.metrics.val_acc) for m in of_type(events, EpochEnd)]

    assert learned(tmp_path / "a") == learned(tmp_path / "b")


def test_a_diverging_loss_fails_and_says_at_which_step(simple_cnn, tiny_config):
    _, events = train(simple_cnn, replace(tiny_config, optimizer="sgd", lr=1e12, progress_every=4))

    failed = events[-1]
    assert isinstance(failed, Failed) and failed.step is not None
    assert f"at step {failed.step}" in failed.reason and "--lr" in failed.reason


def test_a_bad_spec_fails_with_the_shape_engines_diagnostics(simple_cnn, tiny_config):
    broken = simple_cnn.replace_layer(7, LayerSpec.of("Linear", in_features=100, out_features=10))
    trainer, events = train(broken, tiny_config)

    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "layer 7" in events[0].reason and "3136" in events[0].reason
    assert not trainer.run_dir.exists()


def test_a_model_that_does_not_fit_the_dataset_fails_with_the_fix(simple_cnn, tiny_config):
    _, events = train(simple_cnn.replace_layer(7, LayerSpec.of("Linear", out_features=7)), tiny_config)

    assert "out_features = 10" in events[-1].reason


def test_missing_data_fails_saying_what_to_do(simple_cnn, tiny_config, tmp_path, offline):
    _, events = train(simple_cnn, replace(tiny_config, data_dir=str(tmp_path / "empty")))

    reason = events[-1].reason
    assert "train-images-idx3-ubyte" in reason and "--data-dir" in reason and "mnist-sample" in reason


def test_stop_from_another_thread_keeps_a_checkpoint_and_resumes_mid_epoch(simple_cnn, tiny_config):
    first_progress = threading.Event()
    events = []
    trainer = Trainer(
        simple_cnn,
        replace(tiny_config, epochs=2),
        [events.append, lambda e: isinstance(e, BatchProgress) and first_progress.set()],
    )
    worker = threading.Thread(target=trainer.run)
    worker.start()
    first_progress.wait(timeout=60)
    trainer.stop()
    worker.join(timeout=60)

    stopped = events[-1]
    assert isinstance(stopped, Stopped) and stopped.epoch == 1
    assert (trainer.run_dir / "checkpoint-last.pt").is_file() and read_metrics(trainer.run_dir) == []
    _, resumed = train(simple_cnn, replace(tiny_config, epochs=2), resume=trainer.run_dir)
    assert resumed[0].start_epoch == 1 and of_type(resumed, BatchProgress)[0].batch > 2
    assert [m.epoch for m in read_metrics(trainer.run_dir)] == [1, 2]


@pytest.mark.parametrize("control", ["stop", "pause"])
def test_a_stop_or_pause_after_the_last_batch_is_answered_not_lost(simple_cnn, tiny_config, control):
    """x (or p) pressed during the last batch of the last epoch: the loop had looked at its
    flags for the last time, so the run finished while the monitor said "stopping"."""
    events = []
    trainer = Trainer(simple_cnn, tiny_config, [events.append])

    def press_during_the_last_batch(event) -> None:
        if isinstance(event, BatchProgress) and event.epoch == tiny_config.epochs and event.batch == event.batches:
            getattr(trainer, control)()

    trainer.listeners.append(press_during_the_last_batch)
    trainer.run()

    assert isinstance(events[-1], Finished) and of_type(events, Evaluated)
    (late,) = [e for e in of_type(events, LogMessage) if "after the last batch" in e.message]
    assert late.level == "warning" and f"the {control} came after the last batch" in late.message
    assert not trainer.paused


def test_pause_holds_the_loop_until_resume(simple_cnn, tiny_config):
    first_progress, paused = threading.Event(), threading.Event()
    events = []

    def listen(event):
        events.append(event)
        if isinstance(event, BatchProgress):
            first_progress.set()
        if isinstance(event, Paused):
            paused.set()

    trainer = Trainer(simple_cnn, tiny_config, [listen])
    worker = threading.Thread(target=trainer.run)
    worker.start()
    first_progress.wait(timeout=60)
    trainer.pause()
    assert paused.wait(timeout=60)
    seen = len(events)
    worker.join(timeout=0.3)
    assert worker.is_alive() and len(events) == seen  # nothing happens while paused
    trainer.resume()
    worker.join(timeout=60)

    kinds = [type(e) for e in events]
    assert kinds.index(Paused) < kinds.index(Resumed) and kinds[-1] is Finished


def test_a_listener_that_raises_does_not_stop_training(simple_cnn, tiny_config):
    def broken(event):
        raise ValueError("display bug")

    events = []
    trainer = Trainer(simple_cnn, tiny_config, [broken, events.append])
    trainer.run()

    assert isinstance(events[-1], Finished)
    assert any("display bug" in getattr(e, "message", "") for e in read_events(trainer.run_dir))


@pytest.mark.parametrize("schedule", ["step", "cosine", "onecycle"])
def test_schedules_change_the_learning_rate(simple_cnn, tiny_config, schedule):
    _, events = train(simple_cnn, replace(tiny_config, schedule=schedule, optimizer="adamw", weight_decay=0.01))

    rates = [p.lr for p in of_type(events, BatchProgress)]
    assert isinstance(events[-1], Finished) and len(set(rates)) > 1


def test_out_of_memory_fails_suggesting_half_the_batch(simple_cnn, tiny_config, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("tui_cnn.backend.trainer.F.cross_entropy", out_of_memory)
    _, events = train(simple_cnn, tiny_config)

    assert events[-1].reason == "out of memory at batch size 32: try --batch-size 16"


def test_a_resumed_epoch_reports_the_whole_epoch_not_the_part_after_the_resume(simple_cnn, tiny_config, tmp_path):
    """Stopped at batch 4 of 7 and resumed: the epoch's train loss and accuracy are those of an
    uninterrupted run (same seed on the CPU), not of the 3 batches after the resume."""
    config = replace(tiny_config, progress_every=2)
    _, whole = train(simple_cnn, replace(config, run_dir=str(tmp_path / "whole")))

    stopped_events = []
    trainer = Trainer(simple_cnn, replace(config, run_dir=str(tmp_path / "parts")), [stopped_events.append])
    trainer.listeners.append(lambda e: isinstance(e, BatchProgress) and e.batch == 4 and trainer.stop())
    trainer.run()
    assert isinstance(stopped_events[-1], Stopped)
    _, resumed = train(simple_cnn, config, resume=trainer.run_dir)

    expected, got = of_type(whole, EpochEnd)[0].metrics, of_type(resumed, EpochEnd)[0].metrics
    assert of_type(resumed, BatchProgress)[0].batch == 6  # it really resumed part-way
    assert got.train_loss == pytest.approx(expected.train_loss, rel=1e-5)
    assert got.train_acc == pytest.approx(expected.train_acc)
    assert got.val_acc == pytest.approx(expected.val_acc)
