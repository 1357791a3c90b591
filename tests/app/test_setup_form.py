"""The monitor's set-up form, typed into as a person would: a value stays what was typed, a
refused one says why beside its field, and a device that is not here says so."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Button, Input, Select

from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.widgets.monitor.setup_form import RunSetupForm
from tui_cnn.domain.run_records import DeviceRecord
from tui_cnn.domain.train_config import SETTINGS


async def type_into(pilot, field: Input, text: str) -> None:
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await pilot.pause()


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("batch_size", "1e9", "batch size must be >= 1 and <= 1,048,576"),
        ("batch_size", "2.5", "batch size must be a whole number"),
        ("epochs", "1e3", None),  # 1,000 epochs: a whole number, taken as typed
        ("weight_decay", "nan", "weight decay must be a finite number"),
        ("lr", "1e308", "learning rate must be > 0 and <= 1e+12"),
    ],
)
@pytest.mark.slow
async def test_a_typed_value_stays_as_typed_and_a_refused_one_says_why_beside_its_field(name, text, error):
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.screen.query_one(RunSetupForm)
        field = form.query_one(f"#field-{name}", Input)
        await type_into(pilot, field, text)
        assert field.value == text  # never cut, filtered or rounded into another number
        shown = str(form.query_one(f"#error-{name}").render())
        start = form.query_one("#start", Button)
        if error is None:
            assert shown == "" and not field.has_class("-invalid")
        else:
            assert error in shown and field.has_class("-invalid") and start.disabled
            assert app.current_mode == "monitor"  # digits typed into a field never switched screens


@pytest.mark.slow
async def test_every_declared_setting_with_a_label_has_a_field():
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)):
        form = app.screen.query_one(RunSetupForm)
        labelled = {name: declared for name, declared in SETTINGS.items() if declared.label}
        assert [str(label.render()) for label in form.query(".field-label")] == [d.label for d in labelled.values()]
        for name, declared in labelled.items():  # each with its field, whose tooltip is the setting's help
            assert form.query_one(f"#field-{name}").tooltip == declared.help, name


@pytest.mark.slow
async def test_cuda_chosen_without_a_gpu_says_so_beside_the_device_and_never_waits_forever(monkeypatch):
    from tui_cnn.backend import devices

    monkeypatch.setattr(devices, "gpu_count", lambda: 0)  # this machine has none either; be sure
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)):
        form = app.screen.query_one(RunSetupForm)
        form.query_one("#field-device", Select).value = "cuda"
        await async_wait_until(
            lambda: "no NVIDIA GPU" in str(form.query_one("#error-device").render()),
            what="the device field to say there is no GPU",
        )
        assert "--device" not in str(form.query_one("#error-device").render())  # no CLI flag inside the app
        assert "checking cuda" not in str(form.query_one("#memory-note").render())
        assert form.query_one("#start", Button).disabled


@pytest.mark.slow
def test_setup_tab_at_80x24_with_a_refused_value(snap_compare, monkeypatch):
    """At 80x24 the errors stand beside their fields, in view (they once sat below the screen)."""
    from tui_cnn.backend import devices

    fixed = devices.DeviceProbe("cpu", DeviceRecord("cpu", "Test CPU (2 cores)", 16 << 30, 8 << 30))
    monkeypatch.setattr(devices, "probe_device", lambda name: fixed)  # the same picture on every machine

    async def type_bad_batch(pilot):
        await pilot.pause()
        # the device's probe answers from a worker: the picture waits for it (a loaded machine
        # once took the snapshot before the free memory was shown)
        await async_wait_until(
            lambda: "free" in str(pilot.app.screen.query_one("#device").render()),
            timeout=20,
            what="the device's free memory",
        )
        field = pilot.app.screen.query_one("#field-batch_size", Input)
        field.cursor_blink = False  # the cursor stays drawn: a blink under load once changed the picture
        field.focus()
        field.value = ""
        await pilot.press(*"1e9")
        await pilot.pause()

    assert snap_compare(TuiCnnApp(start_mode="monitor"), terminal_size=(80, 24), run_before=type_bad_batch)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([("home", None), ("ctrl+k", None), ("minus", "-"), ("1", "1")], "-1"),  # was "1"
        ([("end", None), ("backspace", None), ("backspace", None), ("9", "9")], "9"),  # was "69" or "9" by chance
    ],
)
@pytest.mark.slow
async def test_editing_keys_keep_their_place_among_typed_characters(keys, expected):
    """Keys posted to the app all at once, as the terminal driver does when a fast typist or a
    loaded machine delivers them: ctrl+k and backspace used to bubble back to the app's queue,
    behind the characters typed after them, which were inserted first (Textual issue 6605)."""
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)) as pilot:
        field = app.screen.query_one(RunSetupForm).query_one("#field-batch_size", Input)
        field.focus()
        await pilot.pause()
        for key, character in keys:
            app.post_message(events.Key(key, character))
        await pilot.pause()
        assert field.value == expected


@pytest.mark.slow
async def test_enter_in_a_field_confirms_it_and_only_r_or_the_button_starts(monkeypatch):
    """Enter in a field started a run (minutes of a GPU and a new run directory): it now moves
    on to the next field; r (out of the field) starts."""
    from tui_cnn.app.screens.monitor import MonitorScreen

    started = []
    monkeypatch.setattr(MonitorScreen, "start_run", lambda screen, config, spec=None: started.append(config))
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.screen.query_one(RunSetupForm)
        epochs = form.query_one("#field-epochs", Input)
        await type_into(pilot, epochs, "2")
        await pilot.press("enter")
        await pilot.pause()
        assert started == [] and app.focused is not epochs  # on to the next field
        await pilot.press("escape", "r")
        await async_wait_until(lambda: started, timeout=10, what="the run to start")
        assert started[0].epochs == 2


@pytest.mark.slow
async def test_the_memory_check_caps_the_batch_at_the_training_set_and_names_the_resolved_device(monkeypatch):
    """Batch 100,000 on the 3,600 training images of the sample once 'needed 65.7 GiB' on 'auto':
    a step cannot take more images than the training set holds."""
    from tui_cnn.backend import devices

    fixed = devices.DeviceProbe("cpu", DeviceRecord("cpu", "Test CPU", 16 << 30, 8 << 30))
    monkeypatch.setattr(devices, "probe_device", lambda name: fixed)
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.screen.query_one(RunSetupForm)
        form.query_one("#field-dataset", Select).value = "mnist-sample"
        await type_into(pilot, form.query_one("#field-batch_size", Input), "100000")
        await async_wait_until(
            lambda: "free on" in str(form.query_one("#memory-note").render()), what="the device's free memory"
        )
        note = str(form.query_one("#memory-note").render())
        assert "larger than the 3,600 training images" in note and "batch size 3,600" in note
        assert "free on cpu (auto)" in note and "on auto" not in note
        assert not form.query_one("#memory-note").has_class("-warning")  # SimpleCNN at 3,600 fits in 8 GiB
        form.show_device("auto", 1 << 20, kind="cpu")  # 1 MiB free: too small even for the capped batch
        await pilot.pause()
        warning = form.memory_warning(form.typed())
        assert "batch size 3600" in warning and "cpu (auto) has" in warning


@pytest.mark.slow
async def test_a_3x32x32_model_defaults_to_the_dataset_of_its_shape():
    from tui_cnn.domain.presets import load_preset

    app = TuiCnnApp(start_mode="monitor", spec=load_preset("VGGSmall"))
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.screen.query_one(RunSetupForm)
        await pilot.pause()
        assert form.query_one("#field-dataset", Select).value == "cifar10"
        assert "takes 28x28" not in str(form.query_one("#problems").render())
        app.spec = load_preset("SimpleCNN")  # back to digits: the form follows the model
        await pilot.pause()
        assert form.query_one("#field-dataset", Select).value in ("mnist", "mnist-sample")


@pytest.mark.slow
async def test_a_focused_dropdown_stands_out_in_every_theme():
    """A compact Select hid Textual's focus border, leaving a 5% tint (colour 234 against 235):
    focus on the dataset or optimizer dropdown was invisible."""
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.screen.query_one(RunSetupForm)
        dataset, epochs = form.query_one("#field-dataset", Select), form.query_one("#field-epochs", Input)
        for theme in ("textual-dark", "textual-light", "nord", "gruvbox", "solarized-light"):
            app.theme = theme
            epochs.focus()
            await pilot.pause()
            blurred = dataset.query_one("SelectCurrent").background_colors[1]
            dataset.focus()
            await pilot.pause()
            focused = dataset.query_one("SelectCurrent").background_colors[1]
            assert sum(abs(a - b) for a, b in zip(focused.rgb, blurred.rgb)) > 60, (theme, focused, blurred)
