"""The box's queue as files: places given under one lock (two adders at once each get their
own), moved, cancelled, taken once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tui_cnn.domain.run_list import run_row, steer_run
from tui_cnn.domain.run_queue import QueueError, enqueue, move, position, read_queued, take_next, waiting_runs

REQUEST = '{"spec": {"model": {"name": "Net", "input_shape": [1, 28, 28]}, "layers": []}, "config": {"epochs": 4}}'


def queued(tmp_path, *names):
    for name in names:
        (tmp_path / name).mkdir()
        enqueue(tmp_path / name, REQUEST)


def order(tmp_path):
    return [path.name for path, _ in waiting_runs(tmp_path)]


def test_runs_wait_first_in_first_out_and_are_taken_once(tmp_path):
    queued(tmp_path, "b", "a", "c")
    assert order(tmp_path) == ["b", "a", "c"] and position(tmp_path / "c") == 3
    assert take_next(tmp_path).name == "b"
    assert order(tmp_path) == ["a", "c"] and read_queued(tmp_path / "b").started_at is not None


def test_a_waiting_run_moves_and_the_others_keep_their_order(tmp_path):
    queued(tmp_path, "a", "b", "c", "d")
    assert move(tmp_path / "d", 2) == 2
    assert order(tmp_path) == ["a", "d", "b", "c"]
    assert move(tmp_path / "a", -10) == 4
    assert order(tmp_path) == ["d", "b", "c", "a"]


def test_stop_cancels_a_waiting_run_which_then_never_starts(tmp_path):
    queued(tmp_path, "a", "b")
    row = run_row(tmp_path / "b")
    assert (row.status, row.position, row.model, row.epochs) == ("queued", 2, "Net", 4)
    steer_run(tmp_path / "b", "stop")
    assert run_row(tmp_path / "b").status == "cancelled"
    assert order(tmp_path) == ["a"]
    with pytest.raises(QueueError):
        move(tmp_path / "b", 1)
    take_next(tmp_path)
    assert take_next(tmp_path) is None


def test_two_processes_adding_at_once_each_get_their_own_place(tmp_path):
    adder = (
        "import sys; from pathlib import Path; from tui_cnn.domain.run_queue import enqueue\n"
        "for i in range(20):\n"
        "    d = Path(sys.argv[1]) / f'{sys.argv[2]}{i:02d}'; d.mkdir(); enqueue(d, '{}')\n"
    )
    adders = [subprocess.Popen([sys.executable, "-c", adder, str(tmp_path), prefix]) for prefix in ("x", "y")]
    assert [process.wait(timeout=60) for process in adders] == [0, 0]
    seqs = [record.seq for _, record in waiting_runs(tmp_path)]
    assert sorted(seqs) == list(range(1, 41))
