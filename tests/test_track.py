"""`tui-cnn track`: a user's own nn.Module, traced on the meta device, checked against
torchinfo's conventions (names, shapes, parameters, mult-adds)."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from tui_cnn.backend.introspect import TrackError, load_target, track
from tui_cnn.cli import main

USER_MODULE = textwrap.dedent("""
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, stride=2, padding="valid"), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            )
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
            self.features[1].requires_grad_(False)  # a frozen layer: not trainable

        def forward(self, x):
            return self.classifier(self.features(x))

    def make_net():
        return Net()

    NOT_A_MODEL = 42
""")


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """The user's project: a module in the current directory."""
    (tmp_path / "usernet.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path


@pytest.mark.slow
def test_every_leaf_is_tracked_with_torchinfo_names_and_shapes(user_dir):
    summary = track(load_target("usernet:Net"), (3, 32, 32), 8, "usernet:Net")
    names = [row.name for row in summary.rows]
    assert names == [f"features.{i}" for i in range(7)] + ["classifier.0", "classifier.1"]
    shapes = {row.name: row.report.output_shape for row in summary.rows}
    assert shapes["features.0"] == (8, 16, 32, 32)
    assert shapes["features.3"] == (8, 16, 16, 16)
    assert shapes["features.4"] == (8, 32, 7, 7)  # floor((16 - 2 - 1)/2 + 1)
    assert shapes["features.6"] == (8, 32, 2, 2)
    assert shapes["classifier.1"] == (8, 10)
    first = summary.rows[0]
    assert first.call == "Conv2d(3, 16, kernel_size=3, padding=1)"
    assert first.report.input_shape == (8, 3, 32, 32)


@pytest.mark.slow
def test_parameters_and_macs_match_torchinfo(user_dir):
    torchinfo = pytest.importorskip("torchinfo")
    model = load_target("usernet:make_net")
    summary = track(model, (3, 32, 32), 8, "usernet:make_net")
    real = __import__("usernet").Net()
    expected = torchinfo.summary(real, input_size=(8, 3, 32, 32), verbose=0)
    assert summary.totals.params == expected.total_params == sum(p.numel() for p in real.parameters())
    assert summary.totals.trainable_params == expected.trainable_params
    assert summary.totals.params - summary.totals.trainable_params == 32  # the frozen BatchNorm
    assert summary.totals.macs == expected.total_mult_adds
    assert summary.rows[0].report.params == 16 * 3 * 3 * 3 + 16


def test_known_layers_get_the_domains_formulas(user_dir):
    from tui_cnn.domain.explain import as_text, explain

    summary = track(load_target("usernet:Net"), (3, 32, 32), 8, "usernet:Net")
    strided = summary.rows[4].report
    assert strided.geometry is not None and strided.receptive_field == (8, 8)  # 4 + 1*(3-1)*2
    text = as_text(explain(strided))
    assert "H_out = floor((16 + 2*0 - 1*(3-1) - 1)/2 + 1) = 7" in text
    assert "32 * (16*3*3) + 32 = 4,640" in text


def test_nothing_is_allocated_on_a_real_device(user_dir):
    model = load_target("usernet:Net")
    track(model, (3, 32, 32), 8, "usernet:Net")
    assert all(p.device.type == "meta" for p in model.parameters())


@pytest.mark.parametrize(
    "target, message",
    [
        ("usernet", "is not MODULE:ATTR"),
        ("no_such_module_here:Net", "no module named 'no_such_module_here'"),
        ("usernet:Missing", "has no attribute 'Missing'"),
        ("usernet:NOT_A_MODEL", "neither an nn.Module class nor a function"),
    ],
)
def test_a_bad_target_says_why(user_dir, target, message):
    with pytest.raises(TrackError, match=message):
        load_target(target)


@pytest.mark.slow
def test_the_cli_prints_json_and_exits_clearly_on_errors(user_dir, on_a_terminal):
    runner = CliRunner()
    ok = runner.invoke(main, ["track", "usernet:Net", "--input", "3,32,32", "--batch-size", "2", "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert data["layers"][0]["name"] == "features.0" and data["layers"][0]["output_shape"] == [2, 16, 32, 32]
    bad = runner.invoke(main, ["track", "usernet:Missing", "--input", "3,32,32"])
    assert bad.exit_code == 2
    assert "has no attribute 'Missing'" in bad.output and "Traceback" not in bad.output
    wrong_input = runner.invoke(main, ["track", "usernet:Net", "--input", "1,32,32", "--json"])
    assert wrong_input.exit_code == 1
    assert "the forward pass on an input of shape (64, 1, 32, 32) failed in features.0" in wrong_input.output


@pytest.mark.slow
async def test_the_tracker_shows_a_tracked_module(user_dir):
    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.app.session import Tracked
    from tui_cnn.app.widgets.layer_table import LayerTable

    app = TuiCnnApp(batch_size=4, tracked=Tracked("usernet:Net", (3, 32, 32)))
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(LayerTable)
        assert table.get_cell("0", "index").plain == "features.0"
        assert table.get_cell("8", "output").plain == "10"
        assert "usernet:Net" in app.screen.sub_title
        await pilot.press("m")  # back to the app's own model
        await pilot.pause()
        assert table.get_cell("0", "index").plain == "0"
