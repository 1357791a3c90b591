"""`tui-cnn runs`: each run's status told from its directory alone (events folded by the one
fold, process.json for who trains it), newest first, --json for scripts."""

from __future__ import annotations

import json
import os
import socket

import pytest
from click.testing import CliRunner

from tests.run_corpus import spoiled_run, write_good_run
from tui_cnn.cli import main
from tui_cnn.domain.run_events import EpochEnd, Failed, Finished, Paused, RunStarted, Stopped
from tui_cnn.domain.run_list import Trainer, list_runs, run_row
from tui_cnn.domain.run_records import EpochMetrics, ProcessRecord, encode_record

STARTED = RunStarted("r", "SimpleCNN", {}, "cpu", "a CPU", "mnist", 256, 0, 64, 1000, 3, 8)
EPOCH = EpochEnd(EpochMetrics(1, 0.5, 0.9, 0.6, 0.8, 1e-3, 1.0, 100.0), best=True)


def write_run(base, name, *events, pid=None, started_at=1.0):
    run_dir = write_good_run(base / name, epochs_done=1)
    (run_dir / "events.jsonl").write_text("".join(encode_record(e) for e in (STARTED, EPOCH, *events)))
    if pid is not None:
        (run_dir / "process.json").write_text(encode_record(ProcessRecord(pid, socket.gethostname(), started_at)))
    return run_dir


@pytest.mark.parametrize(
    "events, alive, status",
    [
        ((Finished(1, 0.8, 3.0),), False, "finished"),
        ((Stopped(1, "checkpoint-last.pt"),), False, "stopped"),
        ((Failed("diverged"),), False, "failed"),
        ((), True, "running"),
        ((Paused(),), True, "paused"),
        ((), False, "crashed"),  # process gone, no end event
        ((Paused(),), False, "crashed"),
    ],
)
def test_status_comes_from_the_events_and_the_process(tmp_path, events, alive, status):
    run_dir = write_run(tmp_path, "run", *events)
    assert run_row(run_dir, trainer=Trainer("live" if alive else "gone")).status == status


def test_a_run_whose_process_said_it_failed_is_failed_not_crashed(tmp_path):
    """Its disk full, a detached run could not write its Failed event: its last output line
    (output.log) says why it ended, so it failed; it did not crash."""
    run_dir = write_run(tmp_path, "full")
    (run_dir / "output.log").write_text(
        "epoch 1 ...\ntui-cnn: training failed: no space left on device writing "
        f"checkpoint-last.pt in {run_dir}: the checkpoint of epoch 1 is kept\n"
    )
    assert run_row(run_dir, trainer=Trainer("gone")).status == "failed"
    assert run_row(run_dir, trainer=Trainer("live")).status == "running"


def test_a_live_pid_on_this_host_is_running_and_a_dead_one_crashed(tmp_path):
    assert run_row(write_run(tmp_path, "live", pid=os.getpid())).status == "running"
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    assert run_row(write_run(tmp_path, "dead", pid=dead)).status == "crashed"


def test_the_list_is_newest_first_and_json_has_the_promised_keys(tmp_path):
    write_run(tmp_path, "old", Finished(1, 0.8, 3.0), pid=1, started_at=100.0)
    write_run(tmp_path, "new", Finished(1, 0.8, 3.0), pid=1, started_at=200.0)
    spoiled_run(tmp_path, "config-not-json")
    assert [row.path.rsplit("/", 1)[1] for row in list_runs(tmp_path)][:2] == ["new", "old"]
    result = CliRunner().invoke(main, ["runs", "--runs-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {"path", "status", "model", "dataset", "epoch", "epochs", "best_val_acc", "test_acc"} <= set(rows[0])
    assert rows[0]["status"] == "finished" and rows[0]["epoch"] == 1 and rows[0]["epochs"] == 3
    assert rows[0]["best_val_acc"] == 0.8 and rows[0]["test_acc"] == 0.5
    assert rows[-1]["status"] == "unreadable" and "config.json" in rows[-1]["problem"]


def test_nan_figures_are_null_in_json_and_blank_in_the_table(tmp_path):
    spoiled_run(tmp_path, "metrics-nan-and-infinity")
    result = CliRunner().invoke(main, ["runs", "--runs-dir", str(tmp_path), "--json"])
    assert json.loads(result.stdout)[0]["images_per_s"] is None
    table = CliRunner().invoke(main, ["runs", "--runs-dir", str(tmp_path)])
    assert table.exit_code == 0 and "metrics-nan-and-infinity" in table.stdout and " nan" not in table.stdout.lower()


def test_no_runs_says_how_to_make_one(tmp_path):
    result = CliRunner().invoke(main, ["runs", "--runs-dir", str(tmp_path / "none")])
    assert result.exit_code == 0 and "no runs" in result.output


def test_a_continued_run_keeps_its_first_start_time(tmp_path):
    """Continued (a second RunStarted, a new process.json): its start column once jumped to the
    continue, moving an old run to the top of the list."""
    import msgspec

    first = msgspec.structs.replace(STARTED, at=1_000.0)
    again = msgspec.structs.replace(STARTED, at=5_000.0, start_epoch=2)
    run_dir = write_run(tmp_path, "continued", Stopped(1, "checkpoint-last.pt"), pid=1, started_at=5_000.0)
    with open(run_dir / "events.jsonl", "w") as events:
        events.write(
            "".join(
                encode_record(e)
                for e in (first, EPOCH, Stopped(1, "checkpoint-last.pt"), again, Stopped(2, "checkpoint-last.pt"))
            )
        )
    assert run_row(run_dir).started_at == 1_000.0


@pytest.mark.slow
def test_a_huge_events_file_is_folded_with_bounded_memory(tmp_path):
    """A 200 MB events.jsonl took `runs` to 490 MB: read whole, then split. Line by line, the
    row costs a few lines' memory whatever the file's size (here 30 MB of batch progress)."""
    import tracemalloc

    from tui_cnn.domain.run_events import BatchProgress

    run_dir = write_run(tmp_path, "huge", Finished(1, 0.8, 3.0))
    progress = encode_record(BatchProgress(1, 1, 100, 1, 0.5, 0.5, 1000.0, 1e-3, 1.0))
    with open(run_dir / "events.jsonl", "w") as events:
        events.write(encode_record(STARTED))
        events.write(progress * (30_000_000 // len(progress)))
        events.write(encode_record(EPOCH) + encode_record(Finished(1, 0.8, 3.0)))
    tracemalloc.start()
    try:
        row = run_row(run_dir)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert row.status == "finished" and row.epoch == 1
    assert peak < 5_000_000, f"{peak:,} bytes"
