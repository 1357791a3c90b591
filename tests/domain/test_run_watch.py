"""What the Runs screen decides without a screen: which runs changed (stats, not reads), which
columns fit a width, what may be deleted or continued, and to how many epochs."""

from __future__ import annotations

import os

import pytest

from tests.run_corpus import write_good_run
from tui_cnn.domain.format import cut
from tui_cnn.domain.run_files import failure_in_output, last_output_line
from tui_cnn.domain.run_list import (
    RunRow,
    RunWatch,
    continue_refused,
    default_epochs,
    deletion_refused,
    parse_epochs_total,
    run_stamp,
)
from tui_cnn.domain.run_table import RUN_NAME_WIDTH, fitting_columns, run_cells
from tui_cnn.domain.settings import SettingError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def names(paths) -> list[str]:
    return sorted(os.path.basename(path) for path in paths)


def test_the_watch_reads_only_new_and_changed_runs_and_says_which_went(tmp_path):
    base = tmp_path / "runs"
    for name in ("a", "b"):
        write_good_run(base / name)
    (base / "no-run").mkdir()  # no config.json
    clock = Clock()
    watch = RunWatch(base, clock=clock, alive=lambda path: True)
    first = watch.poll()
    assert names(first.read) == ["a", "b"] and first.gone == []
    assert watch.poll(live={str(base / "a")}).read == []  # nothing changed: nothing to read

    with (base / "a" / "metrics.jsonl").open("a") as metrics:  # a live run appends
        metrics.write("{}\n")
    assert names(watch.poll(live={str(base / "a")}).read) == ["a"]

    (base / "b" / "eval.json").write_text("{}")  # b is settled: looked at every SETTLED_S
    write_good_run(base / "c")  # a new folder: at once
    assert names(watch.poll().read) == ["c"]
    clock.now += RunWatch.SETTLED_S
    assert names(watch.poll().read) == ["b"]

    (base / "c" / "config.json").unlink()  # no longer a run
    os.rename(base / "a", tmp_path / "a-moved")
    clock.now += RunWatch.SETTLED_S
    changes = watch.poll()
    assert changes.read == [] and names(changes.gone) == ["a", "c"]
    assert names(watch.poll(everything=True).read) == ["b"]  # r: every run read again


def test_a_live_run_whose_process_died_is_read_again_though_no_file_changed(tmp_path):
    base = tmp_path / "runs"
    write_good_run(base / "a")
    clock, alive = Clock(), {"a": True}
    watch = RunWatch(base, clock=clock, alive=lambda path: alive[os.path.basename(path)])
    live = {str(base / "a")}
    watch.poll(live)
    alive["a"] = False
    clock.now += RunWatch.LIVENESS_S / 2
    assert watch.poll(live).read == []  # asked every LIVENESS_S, not every poll
    clock.now += RunWatch.LIVENESS_S / 2
    assert names(watch.poll(live).read) == ["a"]
    assert watch.poll(set()).read == []  # no longer live: its process is not asked again


def test_a_missing_or_unreadable_runs_folder_is_no_runs(tmp_path):
    assert RunWatch(tmp_path / "none").poll().read == []
    (tmp_path / "a-file").write_text("")
    assert RunWatch(tmp_path / "a-file").poll().read == []
    assert run_stamp(str(tmp_path / "none")) is None


@pytest.mark.parametrize(
    "width, extra",
    [
        (78, []),  # 80 columns, less the scrollbar
        (118, ["model", "img/s", "time"]),
        (158, ["model", "img/s", "time", "dataset", "device", "started"]),
    ],
)
def test_columns_fit_the_width_the_most_useful_first(width, extra):
    columns, run_width = fitting_columns(width)
    keys = [column.key for column in columns]
    assert [key for key in keys if key not in ("mark", "status", "run", "epoch", "best val", "test")] == [
        key for key in ("model", "dataset", "img/s", "device", "started", "time") if key in extra
    ]
    assert run_width >= RUN_NAME_WIDTH
    assert sum(column.width + 2 for column in columns if column.key != "run") + run_width + 2 <= width
    assert keys[:3] == ["mark", "status", "run"]


def test_a_narrow_terminal_still_shows_the_run_name_and_long_names_keep_their_end():
    _, run_width = fitting_columns(20)
    assert run_width == 8
    assert cut("20260102-030405-resnet18-lr0.1", 12, keep_end=True) == "…net18-lr0.1"
    assert cut("fashion-mnist", 6) == "fashi…" and cut("mnist", 6) == "mnist"


def test_cells_are_blank_for_unknown_or_non_finite_figures():
    row = RunRow(
        path="runs/x",
        status="crashed",
        epoch=1,
        epochs=3,
        best_val_acc=float("nan"),
        images_per_s=float("inf"),
        started_at=float("nan"),
        duration_s=-1.0,
    )
    cells = run_cells(row)
    assert cells["run"] == "x" and cells["epoch"] == "1/3"
    assert cells["best val"] == cells["img/s"] == cells["started"] == cells["time"] == ""
    assert run_cells(RunRow(path="runs/y", status="unreadable"))["epoch"] == ""


def test_only_a_real_run_folder_in_the_runs_folder_may_be_deleted(tmp_path):
    base = tmp_path / "runs"
    run = write_good_run(base / "run")
    assert deletion_refused(run, base) is None
    outside = write_good_run(tmp_path / "outside")
    (base / "link").symlink_to(outside, target_is_directory=True)
    assert "is a link" in deletion_refused(base / "link", base)
    assert "not a folder in" in deletion_refused(outside, base)
    (base / "bare").mkdir()
    assert "no config.json" in deletion_refused(base / "bare", base)
    assert "no longer there" in deletion_refused(base / "gone", base)


def test_what_continues_and_to_how_many_epochs(tmp_path):
    run = write_good_run(tmp_path / "run")
    stopped = RunRow(path=str(run), status="stopped", epoch=1, epochs=3)
    assert "no checkpoint-last.pt" in continue_refused(stopped)
    (run / "checkpoint-last.pt").write_bytes(b"")
    assert continue_refused(stopped) is None
    assert "is running" in continue_refused(RunRow(path=str(run), status="running"))
    assert default_epochs(stopped) == 3  # what it was to train
    assert default_epochs(RunRow(path=str(run), status="finished", epoch=3, epochs=3)) == 8
    assert default_epochs(RunRow(path=str(run), status="finished", epoch=100_000, epochs=100_000)) == 100_000
    assert parse_epochs_total(" 1e1 ", done=3) == 10
    for text, said in (
        ("3", "more than 3"),
        ("0", ">= 1"),
        ("2.5", "whole number"),
        ("many", "whole number"),
        ("100001", "<= 100,000"),
    ):
        with pytest.raises(SettingError, match=said):
            parse_epochs_total(text, done=3)


def test_the_last_line_a_run_process_wrote(tmp_path):
    assert last_output_line(tmp_path) == ""  # no output.log
    (tmp_path / "output.log").write_bytes(b"x" * 10_000 + b"\nepoch 1/2\n\xff tui-cnn: training failed: no data\n\n")
    assert last_output_line(tmp_path) == "\ufffd tui-cnn: training failed: no data"


def test_the_last_line_says_why_without_its_prefix_and_tells_a_failure_as_written(tmp_path):
    (tmp_path / "output.log").write_text("epoch 1/2\ntui-cnn: training failed: no data\n")
    assert last_output_line(tmp_path) == "no data"
    assert last_output_line(tmp_path, as_written=True) == "tui-cnn: training failed: no data"
    assert failure_in_output(tmp_path) == "no data"
    (tmp_path / "output.log").write_text("tui-cnn: killed by a signal\n")
    assert last_output_line(tmp_path) == "killed by a signal"
    assert failure_in_output(tmp_path) is None
