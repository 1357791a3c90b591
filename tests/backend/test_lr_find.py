"""`tui-cnn lr-find` for real: SimpleCNN with Adam on the packaged MNIST sample."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tui_cnn.cli import main


@pytest.mark.slow
@pytest.mark.heavy  # the range test and a training with its suggestion; f on the monitor runs it in the default run
def test_lr_find_suggests_a_learning_rate_adam_trains_simplecnn_with_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "lr-find",
            "SimpleCNN",
            "--dataset",
            "mnist-sample",
            "--optimizer",
            "adam",
            "--device",
            "cpu",
            "--batches",
            "120",
            "--json",
        ],
    )
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


@pytest.mark.slow
async def test_f_on_the_monitor_plots_the_range_test_and_y_fills_the_learning_rate(tmp_path, monkeypatch):
    """The app runs the test as a child process (it never trains itself) and puts the
    suggestion in the form on confirmation."""
    from tests.helpers import async_wait_until
    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.app.widgets.monitor.lr_find import LrFindScreen

    monkeypatch.chdir(tmp_path)
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        monitor = app.screen
        monitor.query_one("#field-dataset").value = "mnist-sample"
        monitor.query_one("#field-device").value = "cpu"
        await pilot.pause()
        await pilot.press("f")
        await async_wait_until(
            lambda: isinstance(app.screen, LrFindScreen) and app.screen.suggestion is not None,
            170,
            what="the range test's suggestion",
        )
        suggestion = app.screen.suggestion
        assert 1e-4 <= suggestion <= 3e-2
        assert "A starting point" in str(app.screen.query_one("#lr-result").render())
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is monitor
        assert monitor.query_one("#field-lr").value == f"{suggestion:.2g}"
