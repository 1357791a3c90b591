"""``tui-cnn [TARGET]``: which model and which screen the app opens on."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.cli import main
from tui_cnn.domain.run_records import RunConfigFile, encode_record
from tui_cnn.domain.specfile import spec_to_dict
from tui_cnn.domain.train_config import TrainConfig


@pytest.fixture
def opened(monkeypatch, on_a_terminal):
    """Record how the app would open instead of taking over the terminal."""
    seen = {}

    def fake_run(app: TuiCnnApp) -> None:
        seen.update(model=app.spec.name, mode=app.start_mode, run_dir=app.session.run_dir)

    monkeypatch.setattr(TuiCnnApp, "run", fake_run)
    return seen


def test_no_argument_opens_the_tracker_on_simple_cnn(opened):
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 0, result.output
    assert opened == {"model": "SimpleCNN", "mode": "tracker", "run_dir": None}


def test_a_preset_name_opens_that_model(opened):
    assert CliRunner().invoke(main, ["lenet5"]).exit_code == 0
    assert opened["model"] == "LeNet5"


def test_a_run_directory_opens_its_results_on_the_monitor(opened, tmp_path, simple_cnn):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(
        encode_record(
            RunConfigFile(spec_to_dict(simple_cnn.with_input_shape((1, 32, 32))), TrainConfig(epochs=2).to_json())
        )
    )
    result = CliRunner().invoke(main, [str(run)])
    assert result.exit_code == 0, result.output
    assert opened == {"model": "SimpleCNN", "mode": "monitor", "run_dir": str(run)}


def test_a_broken_run_directory_says_so_in_one_line(opened, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    result = CliRunner().invoke(main, [str(tmp_path)])
    assert result.exit_code == 2
    assert "config.json is not JSON" in result.output and "Traceback" not in result.output
    assert "Traceback" not in result.output and opened == {}


def test_an_unknown_target_exits_2(opened):
    result = CliRunner().invoke(main, ["no-such-model"])
    assert result.exit_code == 2 and "no such spec file or preset" in result.output
