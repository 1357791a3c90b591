"""A picture given to Inspect (`tui-cnn inspect --image`): a very large one is said in one note,
not PIL's raw DecompressionBombWarning on stderr."""

from __future__ import annotations

import warnings

from PIL import Image

from tui_cnn.backend.inspect import image_from_file


def test_a_very_large_picture_is_one_note_not_pils_warning(tmp_path, monkeypatch):
    # PIL warns past MAX_IMAGE_PIXELS (~89 Mpx) and refuses past twice that: lowered here so a
    # small file crosses it the way a 100-Mpx photo does
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    path = tmp_path / "huge.png"
    Image.new("L", (40, 40), 0).save(path)  # 1,600 pixels: over the limit, under twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escapes fails the test
        image, notes = image_from_file(path, (1, 28, 28))
    assert image.shape == (1, 28, 28)
    assert any("very large picture (40x40" in note for note in notes)
