"""Compare runs: the CLI's JSON, the app opened on the Compare screen, the screen's keys and
its pictures at 80x24 and 160x50 (hand-made runs, no training)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.compare_runs import write_compared_runs
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.compare import DIFFERS_MARK, CompareScreen, RunCurves
from tui_cnn.cli import main


@pytest.fixture
def runs(tmp_path):
    return write_compared_runs(tmp_path)


def test_cli_json_settings_diff_and_metrics(runs):
    adam, sgd, broken = runs
    result = CliRunner().invoke(main, ["compare", str(adam), str(sgd), str(broken), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [run["label"] for run in data["runs"]] == ["adam-run", "sgd-run"]
    assert [m["val_acc"] for m in data["runs"][1]["metrics"]] == [0.62, 0.76, 0.82]
    assert {"optimizer", "learning rate", "epochs"} <= set(data["differences"])
    assert data["left_out"][0]["path"] == str(broken)
    assert f"left out: {broken}/config.json is not JSON" in result.stderr


def test_cli_needs_two_readable_runs_and_a_terminal_for_the_app(runs, tmp_path):
    adam, _, broken = runs
    for args in ([str(adam)], [str(adam), str(broken)]):
        result = CliRunner().invoke(main, ["compare", *args, "--json"])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert result.stderr.strip().splitlines()[-1].startswith("tui-cnn: ")
    result = CliRunner().invoke(main, ["compare", str(adam), str(runs[1])])  # CliRunner is no terminal
    assert result.exit_code == 2 and "tui-cnn compare --json" in result.stderr


def test_cli_opens_the_app_on_the_compare_screen(runs, monkeypatch, on_a_terminal):
    seen = {}
    monkeypatch.setattr(TuiCnnApp, "run", lambda app: seen.update(runs=app.session.compare_run_dirs))
    adam, sgd, broken = runs
    assert CliRunner().invoke(main, ["compare", str(adam), str(sgd), str(broken)]).exit_code == 0
    assert seen == {"runs": [str(adam), str(sgd), str(broken)]}  # the screen says why one is left out


@pytest.mark.slow
async def test_compare_screen_curves_settings_and_back(runs):
    adam, sgd, broken = runs
    app = TuiCnnApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.compare([str(adam), str(sgd), str(broken)])
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        summary = str(screen.query_one("#compare-summary").render())
        assert f"{DIFFERS_MARK} differ: " in summary and "optimizer" in summary and "left out:" in summary
        plot = screen.query_one("#curve-val_acc", RunCurves)
        series = plot._figure[0]  # the series, then the x axis: label, ticks, range
        assert [label for _, _, label in series] == ["1 adam-run", "2 sgd-run"]
        assert series[1][1] == [62.0, 76.0, 82.0]

        await pilot.press("s")
        table = screen.query_one("#compare-settings")
        await pilot.pause()
        assert table.display and table.row_count == len(screen.comparison.rows)
        marks = {str(table.get_row(key)[1]): str(table.get_row(key)[0]) for key in table.rows}
        assert marks["optimizer"] == DIFFERS_MARK and marks["batch size"] == ""

        await pilot.press("l")
        assert screen.query_one("#curve-val_loss").display
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


def _open_compared(runs, monkeypatch):
    """The app as `tui-cnn compare` opens it, the runs named relative to where it runs: the
    picture holds no temporary path."""
    monkeypatch.chdir(runs[0].parent)
    return TuiCnnApp(compare_run_dirs=[run.name for run in runs])


@pytest.mark.slow
def test_snapshot_compare_80x24(snap_compare, runs, monkeypatch):
    assert snap_compare(_open_compared(runs, monkeypatch), terminal_size=(80, 24))


@pytest.mark.slow
def test_snapshot_compare_settings_160x50_light(snap_compare, runs, monkeypatch):
    async def settings_in_light(pilot):
        pilot.app.theme = "textual-light"
        await pilot.press("s")

    assert snap_compare(_open_compared(runs, monkeypatch), terminal_size=(160, 50), run_before=settings_in_light)


@pytest.mark.slow
async def test_more_runs_than_readable_colours_take_another_marker(tmp_path):
    from tests.compare_runs import write_run

    dirs = [
        str(write_run(tmp_path / f"run{i}", [(1.0, 0.5, 1.0, 0.5 + i / 100), (0.5, 0.6, 0.6, 0.6 + i / 100)]))
        for i in range(9)
    ]
    app = TuiCnnApp()
    async with app.run_test(size=(160, 50)) as pilot:
        app.theme = "textual-light"  # fewer theme colours read on its light background
        app.compare(dirs)
        await pilot.pause()
        plot = app.screen.query_one("#curve-val_acc", RunCurves)
        assert len(plot._figure[0]) == 9
        assert "•" in str(plot.render())  # the series past the colours: dots, not braille


@pytest.mark.slow
async def test_every_runs_settings_column_is_in_view_at_80_columns(tmp_path):
    """A long value (a device's full name, a folder) once pushed the second run off the screen."""
    import json as _json

    from tui_cnn.domain.run_files import read_run_config

    first, second = write_compared_runs(tmp_path)[:2]
    config = _json.loads((first / "config.json").read_text())
    config["device"]["name"] = "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz with a very long marketing name"
    (first / "config.json").write_text(_json.dumps(config))
    read_run_config(first)  # still a valid config.json
    app = TuiCnnApp(compare_run_dirs=[str(first), str(second)])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        table = app.screen.query_one("#compare-settings")
        right = sum(column.get_render_width(table) for column in table.columns.values())
        assert right <= 80 - 2  # every run's column ends before the scrollbar
        assert table.row_count == len(app.screen.comparison.rows)
