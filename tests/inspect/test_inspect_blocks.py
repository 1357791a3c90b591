"""Inspect on a model with Residual and Concat blocks: a feature map for every top-level row,
a block's at its merge (the added or concatenated output)."""

from __future__ import annotations

import pytest

from tests.inspect.test_inspect_app import shown, text_of
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain import load_preset

pytestmark = pytest.mark.slow  # torch in the app's worker


async def test_inspect_shows_a_branched_models_blocks_by_their_merged_output(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the built-in sample, unpacked here
    app = TuiCnnApp(load_preset("InceptionMini"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        view = await shown(app)
        assert [layer.type for layer in view.layers][3] == "Concat"
        assert view.layers[3].output.shape == (32, 14, 14)  # 8 + 16 + 4 + 4 channels side by side
        await pilot.press(*["down"] * 3, "right_square_bracket")
        await pilot.pause()
        assert app.screen.layer_index == 3
        assert "RANDOM WEIGHTS" in text_of(app, "#inspect-source")
