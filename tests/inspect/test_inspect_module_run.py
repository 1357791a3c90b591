"""Inspect of a run of a user's own nn.Module: `tui-cnn inspect RUN --json` predicts with the
module built from the run's kept source and lists its leaf modules' calls; the Inspect screen
shows them and says what it cannot show (windows need a spec's geometry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.inspect.test_inspect_app import shown, text_of
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.cli import main
from tui_cnn.domain.model_source import ModuleSource
from tui_cnn.domain.train_config import TrainConfig

pytestmark = pytest.mark.slow

INSPECT_NET = """
import torch.nn.functional as F
from torch import nn


class InspectNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        return self.head(F.max_pool2d(F.relu(self.conv(x)), 2).flatten(1))
"""


@pytest.fixture
def module_run(tmp_path, mnist_root, monkeypatch) -> Path:
    from tui_cnn.backend.trainer import Trainer

    (tmp_path / "inspectnet.py").write_text(INSPECT_NET)
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    config = TrainConfig(
        dataset="mnist", data_dir=str(mnist_root), epochs=1, batch_size=32, device="cpu", run_dir=str(run_dir)
    )
    Trainer(ModuleSource("inspectnet:InspectNet", (1, 28, 28)), config).run()
    (tmp_path / "inspectnet.py").write_text("raise SystemExit('not the kept copy')\n")  # inspect reads the copy
    return run_dir


@pytest.mark.timeout(400)
def test_inspect_json_of_a_module_run_gives_the_prediction_and_its_leaf_layers(module_run):
    result = CliRunner().invoke(main, ["inspect", str(module_run), "--index", "0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["predicted_class"] in [str(i) for i in range(10)] and len(report["probabilities"]) == 10
    assert [(layer["name"], layer["type"]) for layer in report["layers"]] == [("conv", "Conv2d"), ("head", "Linear")]


@pytest.mark.timeout(400)
async def test_the_inspect_screen_shows_a_module_run_and_says_what_it_cannot(module_run):
    app = TuiCnnApp(start_mode="monitor", run_dir=str(module_run))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("5")
        view = await shown(app)
        assert [layer.name for layer in view.layers] == ["conv", "head"]
        await pilot.press("right_square_bracket", "shift+down", "shift+right", "down", "up", "right")
        await shown(app, lambda v: v.test_index == 1)
        assert "conv Conv2d" in text_of(app, "#inspect-detail")
        assert "its windows and receptive field are not shown" in text_of(app, "#inspect-detail")
