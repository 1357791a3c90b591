"""Spec files: what is saved loads back the same; a bad file says what is wrong with it;
saving never leaves half a file or a stray temporary one."""

from __future__ import annotations

import os

import pytest

from tui_cnn.domain import specfile
from tui_cnn.domain.presets import load_preset, preset_names
from tui_cnn.domain.spec import LayerSpec, ModelSpec
from tui_cnn.domain.specfile import SpecError, atomic_write_text, load_spec, loads_spec, save_spec

EVERY_KIND_OF_VALUE = ModelSpec(
    "Odd values",
    (3, 32, 24),
    (
        LayerSpec.of(
            "Conv2d",
            out_channels=8,
            kernel_size=(3, 5),
            padding="same",
            bias=False,
            padding_mode="reflect",
            dilation=[1, 2],
        ),
        LayerSpec.of("MaxPool2d", kernel_size=2, stride=(2, 1), ceil_mode=True),
        LayerSpec.of("AdaptiveAvgPool2d", output_size=(4, 3)),
        LayerSpec.of("Flatten"),
        LayerSpec.of("Dropout", p=0.25),
        LayerSpec.of("Linear", in_features=96, out_features=10),
    ),
)


@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip(tmp_path, name):
    spec = load_preset(name)
    save_spec(spec, tmp_path / "model.toml")
    assert load_spec(tmp_path / "model.toml") == spec


def test_pairs_strings_and_bools_round_trip(tmp_path):
    path = tmp_path / "odd.toml"
    save_spec(EVERY_KIND_OF_VALUE, path)
    loaded = load_spec(path)
    assert loaded == EVERY_KIND_OF_VALUE
    assert loaded.layers[0].args["dilation"] == (1, 2)  # lists come back as tuples
    save_spec(loaded, path)
    assert load_spec(path) == loaded


def test_saved_file_reads_like_the_pytorch_code(tmp_path):
    path = tmp_path / "odd.toml"
    save_spec(EVERY_KIND_OF_VALUE, path)
    text = path.read_text()
    assert text.startswith('[model]\nname = "Odd values"\ninput_shape = [3, 32, 24]\n\n[[layers]]\n')
    assert (
        'type = "Conv2d"\nout_channels = 8\nkernel_size = [3, 5]\npadding = "same"\nbias = false\n'
        'padding_mode = "reflect"\ndilation = [1, 2]\n'
    ) in text
    assert text.endswith('[[layers]]\ntype = "Linear"\nin_features = 96\nout_features = 10\n')


def test_strings_are_escaped_in_names_and_values(tmp_path):
    spec = ModelSpec('say "hi"\\ \u00e9', (1, 8, 8), (LayerSpec.of("GELU", approximate='t"a\nnh'),))
    save_spec(spec, tmp_path / "m.toml")
    assert load_spec(tmp_path / "m.toml") == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model\nname = 1", "not valid TOML"),
        ('[[layers]]\ntype = "ReLU"\n', "missing [model] table"),
        ('[model]\nname = "m"\ninput_shape = "1,28,28"\n', "input_shape must be a list [C, H, W]"),
        (
            "[model]\ninput_shape = [1, 28, 28]\n[[layers]]\nout_channels = 8\n",
            'layer 0 needs a type, e.g. type = "Conv2d"',
        ),
        ("layers = 3\n[model]\ninput_shape = [1, 28, 28]\n", "layers must be an array of tables"),
        (
            '[model]\ninput_shape = [1, 28, 28]\n[[layer]]\ntype = "ReLU"\n',
            "unknown table 'layer': did you mean [[layers]]?",
        ),
    ],
)
def test_bad_files_raise_spec_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize("kind", ["missing", "directory", "not utf-8"])
def test_unreadable_paths_raise_spec_error(tmp_path, kind):
    path = tmp_path / "model.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "not utf-8":
        path.write_bytes(b"\xff\xfe[model]")
    with pytest.raises(SpecError, match=r"model\.toml: cannot read \("):
        load_spec(path)


def test_unknown_tables_that_are_not_typos_are_left_alone():
    spec = loads_spec('[model]\ninput_shape = [1, 28, 28]\n[notes]\ntext = "mine"\n[[layers]]\ntype = "ReLU"\n')
    assert spec.layers == (LayerSpec("ReLU"),)


def _files_in(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_save_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text("old")
    save_spec(load_preset("LeNet5"), path)
    assert load_spec(path) == load_preset("LeNet5")
    assert _files_in(tmp_path) == ["model.toml"]


def test_a_value_toml_cannot_hold_leaves_the_target_untouched(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text("old")
    spec = ModelSpec("m", (1, 28, 28), (LayerSpec.of("AdaptiveAvgPool2d", output_size=(None, 7)),))
    with pytest.raises(SpecError, match=r"layer 0 \(AdaptiveAvgPool2d\): output_size = \(None, 7\) cannot be saved"):
        save_spec(spec, path)
    assert path.read_text() == "old"
    assert _files_in(tmp_path) == ["model.toml"]


def test_a_failed_write_removes_its_temporary_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "model.toml"
    path.write_text("old")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(specfile.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert _files_in(tmp_path) == ["model.toml"]


def test_saved_files_get_the_usual_permissions_not_mkstemps_private_ones(tmp_path, simple_cnn):
    # Run files (checkpoints, metrics, specs) must be readable by whoever could read a file
    # written with open(): mkstemp alone would leave them 0600.
    path = tmp_path / "model.toml"
    save_spec(simple_cnn, path)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
