"""`tui-cnn lr-find` for real: SimpleCNN with Adam on the packaged MNIST sample."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tui_cnn.cli import main


@pytest.mark.slow
def test_lr_find_suggests_a_learning_rate_adam_trains_simplecnn_with_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["lr-find", "SimpleCNN", "--dataset", "mnist-sample", "--optimizer", "adam",
                                       "--device", "cpu", "--batches", "120", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert 1e-4 <= found["suggestion"] <= 3e-2
    assert len(found["lrs"]) == len(found["losses"]) <= 120
    assert found["lrs"] == sorted(found["lrs"])
    assert "starting point" in found["note"]
    assert list(tmp_path.iterdir()) == []  # no run directory, no checkpoint


def test_lr_find_refuses_a_range_that_ends_before_it_starts():
    result = CliRunner().invoke(main, ["lr-find", "--start", "1", "--end", "0.1"])
    assert result.exit_code == 2 and "must be larger than --start" in result.output
