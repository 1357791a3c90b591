"""The torch side of Inspect on models without a run: random weights, data that is not here."""

from __future__ import annotations

import numpy as np
import pytest

from tui_cnn.backend.inspect import InspectError, Inspector
from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.spec import LayerSpec, ModelSpec


@pytest.mark.slow
def test_a_model_whose_dataset_is_missing_has_no_test_images_and_downloads_nothing(monkeypatch, tmp_path):
    import torchvision

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", lambda self: pytest.fail("Inspect downloaded"))
    inspector = Inspector.untrained(load_preset("VGGSmall"))
    assert inspector.test_split() is None
    assert "not in" in inspector.why_no_test_images() and "does not download" in inspector.why_no_test_images()
    with pytest.raises(InspectError, match="no test images"):
        inspector.test_view(0)
    view = inspector.view(np.zeros((3, 32, 32), dtype=np.uint8), None, "blank")
    assert len(view.prediction.probabilities) == 10 and not inspector.trained


def test_a_model_that_does_not_end_in_classes_is_shown_without_a_prediction():
    spec = ModelSpec("Maps", (1, 8, 8), (LayerSpec.of("Conv2d", out_channels=2, kernel_size=3),))
    view = Inspector.untrained(spec).view(np.zeros((1, 8, 8), dtype=np.uint8), None, "blank")
    report = view.report()
    assert report.to_json()["predicted"] is None and "not class scores" in report.to_text()
    assert view.layers[0].thumbnails.shape == (2, 6, 6)
