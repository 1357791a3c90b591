"""The app under a real user: keys at typing speed (not waiting for the app between them, as
Pilot's ``press`` does), dialogs answered in a hurry, and an unexpected error that must not
lose the model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Button

from tests.helpers import async_wait_until, help_text, type_fast
from tui_cnn.app.app import CrashSaved, TuiCnnApp
from tui_cnn.app.screens.builder import BuilderScreen
from tui_cnn.app.widgets.builder.form import LayerForm
from tui_cnn.app.widgets.builder.stack import StackTable
from tui_cnn.app.widgets.confirm import ConfirmScreen
from tui_cnn.app.widgets.help import HelpScreen
from tui_cnn.domain import load_preset
from tui_cnn.domain.paths import crash_reports, recovery_path
from tui_cnn.domain.recovery import discard_recovery, load_recovery, save_recovery

SIZE = (80, 24)


def builder(app: TuiCnnApp) -> BuilderScreen:
    return app.get_screen_stack("builder")[0]


async def settle(pilot) -> None:
    await pilot.pause(0.3)
    await pilot.pause()


# --- 1. the builder under held arrow keys ---


@pytest.mark.parametrize("gap", [0.0, 0.04])
@pytest.mark.slow
async def test_held_down_arrow_does_not_crash_the_builder(gap):
    """Down 8x, 40 ms apart (a held key): the form's edits of the layer left behind used to be
    applied to the layer now under the cursor (AttributeError in parse_field)."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_fast(app, ["down"] * 8, gap)
        await settle(pilot)
        stack = builder(app).query_one(StackTable)
        assert stack.cursor_row == 8
        assert app.spec == load_preset("SimpleCNN")  # moving the cursor changed nothing
        form = builder(app).query_one(LayerForm)
        assert form.target == (7, app.spec.layers[7].type)


@pytest.mark.slow
async def test_escape_from_a_field_then_fast_down_does_not_crash():
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "enter")  # into the first Conv2d's form
        await type_fast(app, ["backspace", "6", "escape", *["down"] * 6, "up", "down"], 0.03)
        await settle(pilot)
        assert builder(app).query_one(StackTable).cursor_row == 7
        assert app.spec.layers[0].args["out_channels"] == 6  # (enter selects the text) the edit went to its own layer


@pytest.mark.parametrize("gap", [0.0, 0.03])
@pytest.mark.slow
async def test_escape_then_down_in_one_burst_moves_the_stack_cursor(gap):
    """escape and down arriving together (one SSH read): the down moves the stack's cursor.
    The focus once moved after the keys already queued, and the down went to the field."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "enter")  # into the first Conv2d's form
        await type_fast(app, ["escape", "down", "down"], gap)
        await settle(pilot)
        assert builder(app).query_one(StackTable).cursor_row == 3


@pytest.mark.slow
async def test_enter_then_typing_in_one_burst_lands_in_the_field():
    """enter on a layer and the digits after it in one burst: the digits are the field's."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")
        await type_fast(app, ["enter", "1", "2"], 0.0)
        await settle(pilot)
        assert app.spec.layers[0].args["out_channels"] == 12


@pytest.mark.slow
async def test_an_edit_applies_to_the_layer_it_was_typed_on():
    """Typing then moving on at once: the text lands on the layer it was typed into."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "enter")
        await type_fast(app, ["backspace", "backspace", "8", "escape", "down", "down"], 0.03)
        await settle(pilot)
        spec = app.spec
        assert spec.layers[0].args["out_channels"] == 8
        assert spec.layers[1:] == load_preset("SimpleCNN").layers[1:]


# --- 1. an unexpected error keeps the model ---


@pytest.mark.slow
async def test_an_unexpected_error_saves_the_model_and_exits_1(monkeypatch):
    spec = load_preset("SimpleCNN").remove(0)
    app = TuiCnnApp(spec, start_mode="builder")

    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(BuilderScreen, "action_export", broken)
    with pytest.raises(CrashSaved) as raised:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("e")
            await pilot.pause()
    assert app.return_code == 1
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert str(recovery_path()) in raised.value.line and "\n" not in raised.value.line
    assert load_recovery() == spec
    [report] = crash_reports()
    assert "RuntimeError: a bug" in report.read_text() and report.relative_to(recovery_path().parent).as_posix() in (
        raised.value.line
    )


@pytest.mark.slow
async def test_next_start_offers_the_model_back_and_enter_keeps_the_file():
    spec = load_preset("SimpleCNN").remove(0)
    save_recovery(spec)
    app = TuiCnnApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # the safe choice: not now, keep the file
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.spec != spec and recovery_path().exists()


@pytest.mark.slow
async def test_restoring_puts_the_model_in_the_builder_as_unsaved():
    spec = load_preset("SimpleCNN").remove(0)
    save_recovery(spec)
    app = TuiCnnApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.spec == spec and app.current_mode == "builder"
        assert builder(app).dirty and not recovery_path().exists()
        assert app.quit_warnings()


# --- 2. help ---


@pytest.mark.parametrize("mode", ["tracker", "builder", "monitor", "runs"])
@pytest.mark.slow
async def test_help_lists_the_keys_of_the_screen(mode):
    """It was an empty 6x4 box on every screen."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode=mode)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        dialog = app.screen.query_one("#dialog")
        assert dialog.region.width >= 60 and dialog.region.height >= 15
        shown = help_text(app)
        assert "Tracker" in shown and "Builder" in shown and "Quit" in shown  # the app's keys
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize(
    "mode, focus",
    [
        ("tracker", None),
        ("tracker", "#batch-size"),
        ("builder", None),
        ("builder", "#field-name"),
        ("monitor", None),
        ("monitor", "#field-epochs"),
        ("runs", None),
    ],
)
@pytest.mark.slow
async def test_help_names_the_focused_widget_in_words(mode, focus):
    """Its sections were titled by class name: "In the contenttabs", "In the typedinput"."""
    from tui_cnn.app.widgets.help import WIDGET_NAMES

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode=mode)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if focus:
            app.screen.query_one(focus).focus()
            await pilot.pause()
        app.action_help()
        await pilot.pause()
        titles = [title for title, _ in app.screen._sections if title.startswith("In the ")]
        assert titles and all(title.removeprefix("In the ") in WIDGET_NAMES.values() for title in titles), titles


@pytest.mark.slow
def test_help_snapshot(snap_compare):
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE)


# --- 3. dialogs: enter is safe, a dialog owns the keyboard ---


@pytest.mark.slow
async def test_enter_in_discard_dialog_keeps_the_changes():
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "delete", "n")
        assert isinstance(app.screen, ConfirmScreen)
        edited = app.spec
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, BuilderScreen) and app.spec == edited and builder(app).dirty


@pytest.mark.slow
async def test_enter_in_quit_dialog_does_not_quit():
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "delete", "ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, BuilderScreen)


@pytest.mark.slow
async def test_a_dialog_owns_the_keyboard():
    """Keys typed in a dialog never reach the app or the screen under it."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "delete", "ctrl+q")
        dialog = app.screen
        await type_fast(app, ["1", "3", "t", "c", "question_mark", "2"], 0.02)
        await settle(pilot)
        assert app.screen is dialog and app.current_mode == "builder"
        assert dialog.focused is dialog.query_one("#cancel", Button)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
@pytest.mark.slow
def test_help_snapshot_tracker(snap_compare, size):
    assert snap_compare(TuiCnnApp(load_preset("SimpleCNN")), press=["question_mark"], terminal_size=size)


@pytest.mark.parametrize("dialog", ["discard", "quit"])
@pytest.mark.slow
def test_dialog_snapshot(snap_compare, dialog):
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    keys = ["down", "delete", "n" if dialog == "discard" else "ctrl+q"]
    assert snap_compare(app, press=keys, terminal_size=SIZE)


@pytest.mark.slow
def test_restore_dialog_snapshot(snap_compare, monkeypatch, tmp_path_factory):
    # A fixed state directory: the dialog names the file, and the snapshot must not change.
    state = Path(tempfile.gettempdir()) / "tui-cnn-test-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    save_recovery(load_preset("SimpleCNN").remove(0))
    try:
        assert snap_compare(TuiCnnApp(load_preset("SimpleCNN")), terminal_size=SIZE)
    finally:
        discard_recovery()


# --- 4. the tracker's boxes keep what was typed and say what is wrong, in full: ---
# tests/app/test_tracker.py, test_a_bad_value_is_kept_as_typed_said_in_full_and_keeps_the_last_good_model

# --- 5. focus is visible in every form ---


@pytest.mark.parametrize("mode", ["builder", "monitor"])
@pytest.mark.slow
async def test_a_focused_field_stands_out(mode):
    """A compact field was only tinted 5% when focused: typing "2" meant for a field that did
    not have the focus switched screens instead."""
    from textual.color import Color
    from textual.widgets import Input

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode=mode)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        if mode == "builder":
            await pilot.press("i")
        box = next(box for box in app.screen.query(Input) if box.display and box.has_class("-textual-compact"))
        box.focus()
        await pilot.pause()
        focused = Color.from_rich_color(box.rich_style.bgcolor)
        app.screen.set_focus(None)
        await pilot.pause()
        blurred = Color.from_rich_color(box.rich_style.bgcolor)
        # visibly different: more than a faint tint (a 5% tint moves a channel ~10 of 255)
        assert max(abs(a - b) for a, b in zip(focused.rgb, blurred.rgb)) > 40


# --- found by the key fuzzer: answers and pages faster than the screen ---


@pytest.mark.slow
async def test_a_dialog_answered_twice_closes_once():
    """escape escape: the second answer reached the dialog after it closed and popped the
    builder itself (ScreenStackError, the app died). Both answers land before the screen
    updates, as they do at typing speed."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")  # the pick-a-layer dialog
        dialog = app.screen
        dialog.dismiss(None)
        dialog.dismiss(None)
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, BuilderScreen)


@pytest.mark.slow
async def test_the_command_palette_answered_twice_closes_once():
    """Textual's palette is no dialog of ours: the app refuses to pop a mode's own screen."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        palette = app.screen
        palette.dismiss()
        palette.dismiss()
        await settle(pilot)
        assert app.is_running and app.screen.query_one("LayerTable")


@pytest.mark.parametrize("opener", [["a"], ["ctrl+p"], ["ctrl+p", "z", "z", "z", "q"]])
@pytest.mark.slow
async def test_page_keys_right_after_a_list_opens(opener):
    """Textual's OptionList raised KeyError on pageup before it was laid out."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_fast(app, [*opener, "pageup", "pagedown", "pageup"])
        await settle(pilot)
        # the list is still open over the builder, which is whole under it
        assert [type(screen) for screen in app.screen_stack][:1] == [BuilderScreen] and len(app.screen_stack) == 2


@pytest.mark.slow
async def test_page_keys_right_after_the_theme_palette_opens():
    """The palette's Theme command opens a second palette, Textual's own, whose list was not
    guarded (KeyError: 0 in _move_page, the app died: the fuzzer's seed 0, app 108)."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.search_themes()
        await type_fast(app, ["pageup", "pagedown", "pageup", "escape", "escape"])
        await settle(pilot)
        assert app.is_running


@pytest.mark.slow
async def test_page_keys_right_after_a_drop_down_opens():
    """A Select's drop-down (the training form's optimizer) is Textual's OptionList too."""
    from textual.widgets import Select

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query(Select).first().focus()
        await pilot.pause()
        await type_fast(app, ["enter", "pageup", "pagedown", "pageup"])
        await settle(pilot)
        assert app.is_running


@pytest.mark.slow
async def test_help_closed_before_it_mounted():
    """ "? escape" in one read (a burst): the help screen was closed before it mounted, and its
    on_mount found no key list to focus (NoMatches, the app died: fuzzer seed 338908)."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.action_help()
        app.screen.dismiss()
        await settle(pilot)
        assert app.is_running and not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.screen.query_one("#help-keys").has_focus


@pytest.mark.slow
async def test_a_screens_key_before_the_screen_is_built_does_nothing():
    """ "2c" in one read: the builder's c reached it while it was still mounting its widgets and
    mounted form fields into a form not yet mounted (MountError, the app died: fuzzer seed 1).
    Here the key's action runs before the screen had any turn to build itself."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.switch_mode("builder")
        assert not await app.run_action("add('Conv2d')", app.screen)
        await settle(pilot)
        assert app.is_running and app.spec == load_preset("SimpleCNN")
        await pilot.press("c")  # once built, its keys work
        assert len(app.spec.layers) == len(load_preset("SimpleCNN").layers) + 1


@pytest.mark.slow
async def test_a_confirmation_answered_before_it_mounted():
    """ "q y" in one read: the dialog was answered before it mounted, and its on_mount found no
    button to focus (NoMatches, the app died: fuzzer seed 338908)."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        answers = []
        app.push_screen(ConfirmScreen("Quit?"), answers.append)
        app.screen.dismiss(True)
        await settle(pilot)
        assert app.is_running and answers == [True]
        app.push_screen(ConfirmScreen("Quit?"))
        await settle(pilot)
        assert app.screen.query_one("#cancel").has_focus  # the safe answer, as before


@pytest.mark.slow
async def test_palette_keys_before_the_palette_is_built_do_nothing():
    """ctrl+p then down in one read: the palette's down looked for its list before it had one
    (NoMatches, the app died: fuzzer seed 338908)."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.action_command_palette()
        assert not await app.run_action("command_list('cursor_down')", app.screen)
        await settle(pilot)
        assert app.is_running


@pytest.mark.slow
async def test_a_key_after_quitting_does_nothing():
    """ctrl+q y c in one read: the c reached the builder after the app began to exit, when
    Textual mounts nothing any more (MountError: the quit ended in an error, fuzzer seed 1)."""
    from tests.helpers import key_event

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bubbled = key_event("c")  # as it comes back from the stack, which did not use it
        bubbled._set_forwarded()
        app.post_message(bubbled)
        app.exit()
        await async_wait_until(lambda: not app.is_running, what="the app to end")
    assert app.return_code == 0 and app.spec == load_preset("SimpleCNN")


@pytest.mark.slow
async def test_a_screen_switched_to_as_the_app_quits_ends_the_quit_without_an_error():
    """1 (the tracker, never shown yet) in the same moment as the quit: the tracker mounted
    without its children and on_mount found no table (NoMatches: the quit ended in an error;
    fuzzer seed 291394, session 106)."""
    from tests.helpers import key_event

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        app.post_message(key_event("1"))
        await pilot.pause(0)
        app.exit()
        await async_wait_until(lambda: not app.is_running, what="the app to end")
    assert app.return_code == 0


@pytest.mark.slow
async def test_work_queued_before_quitting_mounts_nothing():
    """The palette's Keys command ran after ctrl+q in the same read: it mounted its panel when
    Textual mounts nothing any more (MountError ended the quit in an error: fuzzer seed 739953)."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.exit()
        app.call_later(app.action_show_help_panel)
        await async_wait_until(lambda: not app.is_running, what="the app to end")
    assert app.return_code == 0


@pytest.mark.slow
async def test_the_command_palette_escaped_twice():
    """The second escape ran the palette's callback again (InvalidStateError, the app died)."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        palette = app.screen
        await palette.run_action("escape")
        await palette.run_action("escape")
        await settle(pilot)
        assert not isinstance(app.screen, CommandPalette) and app.screen.query_one("LayerTable")  # the tracker again


@pytest.mark.slow
async def test_the_command_palette_reopened_at_once():
    """ctrl+p escape ctrl+p: the closing palette still held its id (DuplicateIds, the app died)."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        app.screen.dismiss()
        app.action_command_palette()
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette) and len(app.screen_stack) == 2  # one palette, the new one


# --- 12. layouts adapt to the width ---


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
@pytest.mark.slow
async def test_the_builders_code_and_form_fit(size):
    """At 80 columns the form kept 36 of them and cut the code to "Conv2d(1, 32, kern"; at
    160 the stack kept ~80 empty columns while the form wrapped."""
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=size) as pilot:
        await pilot.press("down")
        stack, form = builder(app).query_one(StackTable), builder(app).query_one(LayerForm)
        code = "Conv2d(1, 32, kernel_size=3, padding=1)"
        assert stack.region.width >= 5 + 4 + 17 + len(code) + 4  # mark, #, output, code, borders
        assert form.region.width >= 40  # "padding_mode   zeros" and a message fit on a line
        assert form.region.height >= 6 and stack.region.height >= 8
