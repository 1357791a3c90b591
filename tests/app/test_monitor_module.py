"""The monitor trains the module the tracker shows, as it trains a spec: `tui-cnn track
appnet:AppNet --input 1,28,28`, then the monitor's form and `r`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.test_monitor import fill_form, finish, wait_for_status
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.monitor import MonitorScreen
from tui_cnn.app.session import Tracked
from tui_cnn.domain.run_files import read_run_config

pytestmark = pytest.mark.slow

APP_NET = """
from torch import nn


def AppNet():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(196, 10))
"""


@pytest.mark.timeout(400)
async def test_r_in_the_monitor_trains_the_module_the_tracker_shows(mnist_root, tmp_path, monkeypatch):
    (tmp_path / "appnet.py").write_text(APP_NET)
    monkeypatch.chdir(tmp_path)
    app = TuiCnnApp(batch_size=1, tracked=Tracked("appnet:AppNet", (1, 28, 28)))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        fill_form(screen, dataset="mnist", data_dir=str(mnist_root), epochs="1", batch_size="32", device="cpu")
        await pilot.pause()
        await pilot.press("r")
        await wait_for_status(screen, "finished", "failed", timeout=300)
        screen = await finish(app, pilot)
        assert screen.state.status == "finished", screen.state.failure
        assert screen.state.model == "AppNet"
        run_dir = Path(screen.state.run_dir)
    config = read_run_config(run_dir)
    assert config.module.target == "appnet:AppNet" and [f.path for f in config.module.files] == ["appnet.py"]
    assert (run_dir / "source" / "appnet.py").read_text() == APP_NET
