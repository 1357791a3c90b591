"""The builder driven by key presses, as a person would: build, break, fix, undo, save, export."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.helpers import help_text, record_notifications
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.builder import BuilderScreen
from tui_cnn.app.widgets.builder.dialogs import PathScreen, PickScreen
from tui_cnn.app.widgets.builder.form import LayerForm
from tui_cnn.app.widgets.builder.stack import StackTable
from tui_cnn.app.widgets.confirm import ConfirmScreen
from tui_cnn.domain import load_preset
from tui_cnn.domain.export import export_code
from tui_cnn.domain.shapes import analyze
from tui_cnn.domain.specfile import load_spec, save_spec

SIZE = (80, 24)


def builder(app: TuiCnnApp) -> BuilderScreen:
    return app.get_screen_stack("builder")[0]


def problems(app: TuiCnnApp) -> str:
    return str(builder(app).query_one("#problems").render())


def field(app: TuiCnnApp, name: str):
    """A form row: .input and .error."""
    return builder(app).query_one(LayerForm).rows[name]


def row_text(app: TuiCnnApp, row: int) -> str:
    return " ".join(str(cell) for cell in builder(app).query_one(StackTable).get_row_at(row))


async def select_layer_field(pilot, layer: int, name: str) -> None:
    """Cursor to ``layer``, enter the form, focus field ``name``."""
    stack = builder(pilot.app).query_one(StackTable)
    stack.focus()
    stack.select_layer(layer)
    await pilot.press("enter")
    field(pilot.app, name).input.focus()
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    await pilot.press(*text)


async def answer_path(pilot, path) -> None:
    """Fill the path dialog (a long path typed key by key only makes the test slow) and confirm."""
    assert isinstance(pilot.app.screen, PathScreen)
    pilot.app.screen.query_one(Input).value = str(path)
    await pilot.press("enter")


@pytest.mark.slow
async def test_build_simple_cnn_from_a_blank_model_with_keys_only(tmp_path, monkeypatch, simple_cnn):
    monkeypatch.chdir(tmp_path)
    app = TuiCnnApp(start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("enter")  # the first choice: blank
        assert app.spec.layers == ()
        await pilot.press("c", "r", "p", "c", "r", "p", "f", "l")
        await pilot.press("home", "enter")  # the input row: the model's own fields
        await type_text(pilot, "SimpleCNN")
        await pilot.press("escape", "ctrl+s")
        assert isinstance(app.screen, PathScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert builder(app).quit_warning() is None
    saved = load_spec(tmp_path / "SimpleCNN.toml")
    assert saved == simple_cnn
    assert analyze(saved).to_json() == analyze(simple_cnn).to_json()


@pytest.mark.slow
async def test_kernel_29_on_28x28_breaks_the_rows_after_it_then_its_own(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await select_layer_field(pilot, 0, "kernel_size")
        await type_text(pilot, "29")
        # Padding 1 makes 30x30, so the 29x29 window fits: 2x2 out, and the second pool breaks.
        assert app.spec.layers[0].args["kernel_size"] == 29
        assert "(N, 32, 2, 2)" in row_text(app, 1) and "✗" in row_text(app, 6)
        assert "✗ layer 5 MaxPool2d · kernel_size" in problems(app)
        field(app, "padding").input.focus()
        await type_text(pilot, "0")
        text = problems(app)
        assert "✗ layer 0 Conv2d · kernel_size: 28x28 shrinks to 0x0" in text
        assert "fix: reduce kernel_size to 28" in text and "ctrl+f applies: set kernel_size = 28" in text
        assert "28x28 shrinks to 0x0" in str(field(app, "kernel_size").error.render())
        assert "✗" in row_text(app, 1) and "?" in row_text(app, 9)  # the output is unknown
        await pilot.press("ctrl+f")
        assert app.spec.layers[0].args["kernel_size"] == 28
        assert field(app, "kernel_size").input.value == "28"
        assert "layer 0" not in problems(app)


@pytest.mark.slow
async def test_removing_the_flatten_is_diagnosed_and_fixed_with_one_key(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        builder(app).query_one(StackTable).select_layer(6)
        await pilot.press("delete")
        assert [layer.type for layer in app.spec.layers][-2:] == ["MaxPool2d", "Linear"]
        text = problems(app)
        assert "! layer 6 Linear: Linear on a 4-D tensor (1, 64, 7, 7)" in text
        assert "ctrl+f applies: insert Flatten before this layer" in text
        await pilot.press("ctrl+f")
        assert app.spec == simple_cnn
        assert "✓ valid" in problems(app)


@pytest.mark.slow
async def test_a_pinned_in_features_that_does_not_match_offers_the_right_one(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await select_layer_field(pilot, 7, "in_features")
        assert field(app, "in_features").input.placeholder == "3136 (inferred)"
        await type_text(pilot, "3000")
        assert "in_features = 3000 but the incoming tensor has 3136 = 64x7x7 features" in problems(app)
        await pilot.press("ctrl+f")
        assert app.spec.layers[7].args["in_features"] == 3136
        assert "✓ valid" in problems(app)


@pytest.mark.parametrize(
    "text, error",
    [
        ("abc", "kernel_size must be a positive integer"),
        ("-3", "kernel_size must be a positive integer"),
        ("3,", "kernel_size must be a positive integer"),
        ("3a", "'3a' is not a number"),
        ("", "kernel_size is required"),
    ],
)
@pytest.mark.slow
async def test_a_bad_value_shows_an_inline_error_and_keeps_the_last_valid_model(simple_cnn, text, error):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await select_layer_field(pilot, 0, "kernel_size")
        await pilot.press("backspace", *text)  # the text was selected on focus: backspace clears it
        assert app.spec == simple_cnn
        assert error in str(field(app, "kernel_size").error.render())
        assert field(app, "kernel_size").error.display
        await pilot.press("backspace", "backspace", "backspace", "5")
        assert app.spec.layers[0].args["kernel_size"] == 5
        assert not field(app, "kernel_size").error.display


@pytest.mark.slow
async def test_bad_model_settings_keep_the_model(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # the input row
        field(app, "input").input.focus()
        await type_text(pilot, "0,28,28")
        assert "input shape must be three positive integers" in str(field(app, "input").error.render())
        field(app, "classes").input.focus()
        await type_text(pilot, "x")
        assert app.spec == simple_cnn
        await pilot.press("backspace", "4")
        field(app, "input").input.focus()
        await type_text(pilot, "3x32x32")
        assert app.spec.layers[-1].args["out_features"] == 4
        assert app.spec.input_shape == (3, 32, 32)
        assert "in_features" not in app.spec.layers[-1].args  # inferred: 64x8x8 now
        assert "(N, 4)" in row_text(app, len(simple_cnn.layers) + 1)


@pytest.mark.slow
async def test_undo_and_redo_restore_every_state(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        states = [app.spec]
        stack = builder(app).query_one(StackTable)
        stack.select_layer(1)
        for keys in (["r"], ["k"], ["delete"], ["D"], ["d"], ["shift+up"]):
            stack.focus()
            await pilot.press(*keys)
            states.append(app.spec)
        await select_layer_field(pilot, 0, "out_channels")
        await type_text(pilot, "16")  # two keystrokes, one step
        states.append(app.spec)
        assert len(set(states)) == len(states), "every key above changed the model"
        for state in reversed(states[:-1]):
            await pilot.press("ctrl+z")
            assert app.spec == state
        assert field(app, "out_channels").input.value == "32"
        for state in states[1:]:
            await pilot.press("ctrl+y")
            assert app.spec == state
        assert field(app, "out_channels").input.value == "16"


@pytest.mark.slow
async def test_layers_are_added_after_the_cursor_with_usual_arguments(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        builder(app).query_one(StackTable).select_layer(5)
        await pilot.press("k")  # conv block after the second pool: 128 channels
        assert [layer.type for layer in app.spec.layers[6:10]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
        assert app.spec.layers[6].args["out_channels"] == 128
        await pilot.press("a")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("escape")
        assert app.spec.layers[6].type == "Conv2d"


@pytest.mark.slow
async def test_a_bad_file_leaves_the_model_untouched_and_unsaved_changes_are_guarded(tmp_path, simple_cnn):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nname = 'x'\ninput_shape = [1, 28]\n")
    good = tmp_path / "lenet.toml"
    save_spec(load_preset("LeNet5"), good)
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await pilot.press("r")  # an unsaved change
        changed = app.spec
        assert "unsaved changes" in builder(app).quit_warning()
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await answer_path(pilot, bad)
        assert app.spec == changed
        assert any("input_shape must be a list [C, H, W]" in message for message in notes)
        await pilot.press("ctrl+o", "y")
        await answer_path(pilot, good)
        assert app.spec == load_preset("LeNet5")
        assert builder(app).quit_warning() is None


@pytest.mark.slow
async def test_export_writes_the_code_and_t_goes_to_training(tmp_path, monkeypatch, simple_cnn):
    monkeypatch.chdir(tmp_path)
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "enter")
        await pilot.pause()
        assert (tmp_path / "model.py").read_text() == export_code(simple_cnn)
        await pilot.press("t")
        assert app.current_mode == "monitor"


@pytest.mark.slow
async def test_quitting_with_unsaved_changes_asks_first_and_help_lists_every_key(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        shown = help_text(app)
        for description in (
            "Conv",
            "Pool",
            "Flatten",
            "Conv block",
            "Any layer",
            "Duplicate",
            "Move up",
            "Undo",
            "Apply fix",
            "Save",
            "Open",
            "Export .py",
            "Train",
            "Input & classes",
        ):
            assert description in shown
        await pilot.press("escape", "b", "ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.is_running and app.spec.layers[0].type == "BatchNorm2d"  # the cursor was on the input


@pytest.mark.slow
async def test_a_model_set_elsewhere_shows_in_the_builder_and_can_be_undone(simple_cnn):
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # the builder has shown its model: "elsewhere" comes after that
        lenet = load_preset("LeNet5")
        app.spec = lenet
        await pilot.pause()
        assert "Conv2d(1, 6, kernel_size=5, padding=2)" in row_text(app, 1)
        await pilot.press("ctrl+z")
        assert app.spec == simple_cnn
        assert "Conv2d(1, 32, kernel_size=3, padding=1)" in row_text(app, 1)


# --- the file a model belongs to: saved back to it, named in the title, others replaced only when asked ---


@pytest.mark.slow
async def test_a_spec_opened_from_the_command_line_saves_back_to_its_file(tmp_path, monkeypatch, simple_cnn):
    """`tui-cnn work/Net.toml`, edit, ctrl+s wrote ./Net.toml: the app did not know the file."""
    from tui_cnn.cli import resolve_open_target

    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    save_spec(simple_cnn, tmp_path / "work" / "Net.toml")
    spec, options = resolve_open_target("work/Net.toml")
    app = TuiCnnApp(spec, **options)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "work/Net.toml" in app.screen.sub_title  # the tracker, where the app opens
        await pilot.press("2")
        await pilot.pause()
        assert "work/Net.toml" in app.screen.sub_title
        await pilot.press("d", "ctrl+s")  # a Dropout after the input, then save
        assert isinstance(app.screen, PathScreen) and app.screen.query_one(Input).value == "work/Net.toml"
        await pilot.press("enter")  # its own file: saved at once, no question
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and builder(app).quit_warning() is None
    assert load_spec(tmp_path / "work" / "Net.toml").layers[0].type == "Dropout"
    assert not (tmp_path / "SimpleCNN.toml").exists() and not (tmp_path / "Net.toml").exists()


@pytest.mark.parametrize("key, name", [("ctrl+s", "other.toml"), ("e", "model.py"), ("e", "[b]net.py")])
@pytest.mark.slow
async def test_save_as_and_export_ask_before_replacing_another_file(key, name, tmp_path, monkeypatch, simple_cnn):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text("# the user's own file\n")
    app = TuiCnnApp(simple_cnn, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        await answer_path(pilot, name)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Replace {name}?" in str(app.screen.query_one("#dialog Label").render())  # the name as it is
        await pilot.press("enter")  # the safe button has the focus: keep it
        await pilot.pause()
        assert (tmp_path / name).read_text() == "# the user's own file\n"
        await pilot.press(key)
        await answer_path(pilot, name)
        await pilot.press("y")  # replace it
        await pilot.pause()
        assert (tmp_path / name).read_text() != "# the user's own file\n"
        (tmp_path / name).write_text("changed since\n")
        await pilot.press(key)  # the file this model was saved / exported to: replaced unasked
        await answer_path(pilot, name)
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert (tmp_path / name).read_text() != "changed since\n"
