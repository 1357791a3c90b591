"""The Runs screen and a sweep: a trial's row says which sweep it belongs to, and w shows the
sweep's table of parameter values against results, the best marked. Hand-made run
directories, as the trainer and the sweep's driver leave them."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from tests.app.test_runs_screen import T0, cursor_to, opened, write_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.widgets.sweep_table import SweepScreen
from tui_cnn.domain.run_events import Finished, Stopped
from tui_cnn.domain.sweep import Param, SweepRecord, mark_pruned, mark_trial, write_sweep


def write_sweep_with_trials(runs):
    sweep_dir = runs / "sweep-1-SimpleCNN"
    sweep_dir.mkdir(parents=True)
    write_sweep(
        sweep_dir,
        SweepRecord(
            study_name=sweep_dir.name,
            trials=4,
            params=[Param("lr", low=1e-4, high=1e-1, log=True), Param("batch_size", choices=[32, 64])],
            spec={},
            config={},
            runs=str(runs),
            prune=True,
        ),
    )
    trials = [
        ({"lr": 0.01, "batch_size": 32}, 1, Finished(1, 0.71, 12.0)),
        ({"lr": 0.003, "batch_size": 64}, 3, Finished(3, 0.73, 36.0)),
        ({"lr": 0.0002, "batch_size": 32}, 2, Stopped(2, None)),
    ]
    for number, (params, epochs, end) in enumerate(trials):
        run_dir = write_run(runs, f"{sweep_dir.name}-t{number}", end, epochs_done=epochs, started_at=T0 + number)
        mark_trial(run_dir, sweep_dir, number, params)
    mark_pruned(runs / f"{sweep_dir.name}-t2", 2, 0.72)
    write_run(runs, "a-lone-run", Finished(1, 0.9, 12.0), started_at=T0 - 10)
    return sweep_dir


@pytest.mark.slow
async def test_w_on_a_trial_shows_its_sweeps_table_with_the_best_marked(tmp_path):
    runs = tmp_path / "runs"
    write_sweep_with_trials(runs)
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    async with app.run_test(size=(120, 30)) as pilot:
        await opened(app, pilot, 4)  # the three trials and the lone run; the sweep's folder is no run
        cursor_to(app, "a-lone-run")
        await pilot.press("w")
        await pilot.pause()
        assert not isinstance(app.screen, SweepScreen)  # no sweep's trial: said, nothing opens
        cursor_to(app, "sweep-1-SimpleCNN-t2")
        await pilot.pause()
        assert "trial 2 of sweep-1-SimpleCNN · w: the sweep's table" in str(
            app.screen.query_one("#run-detail", Static).render()
        )
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, SweepScreen)
        table = app.screen.query_one("#sweep-trials", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]
        assert rows == [
            ["", "0", "finished", "71.00%", "0.01", "32", "sweep-1-SimpleCNN-t0"],
            ["★", "1", "finished", "73.00%", "0.003", "64", "sweep-1-SimpleCNN-t1"],
            ["", "2", "pruned", "72.00%", "0.0002", "32", "sweep-1-SimpleCNN-t2"],
        ]
        assert "trial 1, validation accuracy 73.00%" in str(app.screen.query_one("#sweep-best", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SweepScreen)
