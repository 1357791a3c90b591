"""The run set-up form: dataset, data folder, epochs, batch size, optimizer, learning rate,
schedule, device, seed and processes (DDP under torchrun), checked as they are typed
(TrainConfig.validate, whether the model fits the dataset, and the machine has the GPUs or
cores for the processes), and the shape engine's training-memory estimate against the
device's free memory, so an out-of-memory shows before the run starts."""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static

from ....backend.train_process import too_many_processes
from ....domain.datasets import DATASETS, check_spec_matches, default_dataset
from ....domain.format import binary_bytes
from ....domain.shapes import analyze
from ....domain.training import DEVICES, OPTIMIZERS, SCHEDULES, TrainConfig

NUMBER_FIELDS = {"epochs": int, "batch_size": int, "lr": float, "seed": int, "nproc_per_node": int}
CHOICE_FIELDS = {"dataset": tuple(DATASETS), "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "device": DEVICES}
LABELS = {"dataset": "dataset", "data_dir": "data folder", "epochs": "epochs", "batch_size": "batch size",
          "optimizer": "optimizer", "lr": "learning rate", "schedule": "schedule", "device": "device",
          "seed": "seed", "nproc_per_node": "processes"}
ORDER = ("dataset", "data_dir", "epochs", "batch_size", "optimizer", "lr", "schedule", "device", "seed",
         "nproc_per_node")


class RunSetupForm(Vertical):
    class StartRequested(Message):
        def __init__(self, config: TrainConfig) -> None:
            super().__init__()
            self.config = config

    class DeviceChosen(Message):
        """The screen answers with ``show_device_memory`` (finding out needs torch: a worker)."""

        def __init__(self, device: str) -> None:
            super().__init__()
            self.device = device

    def __init__(self, base: TrainConfig, **kwargs) -> None:
        """``base`` fills the fields and carries the settings the form does not show."""
        super().__init__(**kwargs)
        self._base = base
        self._free_bytes: dict[str, int | None] = {}  # device name -> free bytes, once known

    def compose(self) -> ComposeResult:
        with Grid(id="setup-fields"):
            for name in ORDER:
                yield Label(LABELS[name], classes="field-label")
                yield self._field(name, getattr(self._base, name))
            yield Label("")
            yield Button("Start training (r)", id="start", variant="success", compact=True)
        yield Static("", id="dataset-note", classes="note")
        yield Static("", id="memory-note", classes="note")
        yield Static("", id="problems", classes="note")

    @staticmethod
    def _field(name: str, value) -> Input | Select:
        if name in CHOICE_FIELDS:
            return Select([(choice, choice) for choice in CHOICE_FIELDS[name]], value=value, allow_blank=False,
                          compact=True, id=f"field-{name}")
        kind = NUMBER_FIELDS.get(name)
        return Input("" if value is None else str(value), compact=True, id=f"field-{name}",
                     type="integer" if kind is int else "number" if kind is float else "text",
                     placeholder="default (per-user cache)" if name == "data_dir" else "")

    def on_mount(self) -> None:
        self.watch(self.app, "spec", lambda _: self.recheck(), init=False)
        self.recheck()
        self.post_message(self.DeviceChosen(self._base.device))

    # --- values ---

    def fill(self, config: TrainConfig) -> None:
        """Show a run's settings (e.g. the one `tui-cnn train` started)."""
        self._base = config
        for name in ORDER:
            value = getattr(config, name)
            field = self.query_one(f"#field-{name}")
            if isinstance(field, Select):
                field.value = value
            else:
                field.value = "" if value is None else str(value)

    def read(self) -> tuple[TrainConfig | None, list[str]]:
        """The config the fields describe, or the problems that stop it, in words."""
        values, problems = {}, []
        for name in ORDER:
            raw = self.query_one(f"#field-{name}").value
            if name in NUMBER_FIELDS:
                try:
                    values[name] = NUMBER_FIELDS[name](raw)
                except ValueError:
                    problems.append(f"{LABELS[name]}: {raw!r} is not a number")
            elif name == "data_dir":
                values[name] = raw.strip() or None  # blank: the per-user cache
            else:
                values[name] = raw
        if problems:
            return None, problems
        config = replace(self._base, **values)
        problems = config.validate()
        if not problems:
            problems += filter(None, [too_many_processes(config.nproc_per_node, config.device)])
        if not analyze(self.app.spec, config.batch_size).valid:
            problems.append(f"{self.app.spec.name} has errors: fix them in the builder (2)")
        mismatch = check_spec_matches(self.app.spec, config.dataset) if config.dataset in DATASETS else None
        if mismatch:
            problems.append(mismatch)
        return (None if problems else config), problems

    # --- checks shown under the fields ---

    def on_input_changed(self, event: Input.Changed) -> None:
        self.recheck()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "field-device":
            self.post_message(self.DeviceChosen(str(event.value)))
        self.recheck()

    def show_device_memory(self, device: str, free_bytes: int | None) -> None:
        self._free_bytes[device] = free_bytes
        self.recheck()

    def recheck(self) -> None:
        config, problems = self.read()
        self.query_one("#problems", Static).update("\n".join(f"✗ {p}" for p in problems))
        self.query_one("#start", Button).disabled = bool(problems)
        self._show_dataset_note()
        self._show_memory_note(config)

    def _show_dataset_note(self) -> None:
        data_dir = self.query_one("#field-data_dir", Input).value.strip() or None
        name, reason = default_dataset(data_dir)
        self.query_one("#dataset-note", Static).update(f"default dataset: {name} ({reason})")

    def memory_warning(self, config: TrainConfig) -> str | None:
        """Why the run will not fit on the device, or None (fits, or not known yet). With
        several processes each GPU trains on its share of the batch."""
        analysis = analyze(self.app.spec, config.process_batch_size)
        free = self._free_bytes.get(config.device)
        if not analysis.valid or free is None:
            return None
        need = analysis.totals.training_bytes
        if need <= free:
            return None
        return (f"training {self.app.spec.name} at batch size {config.process_batch_size} needs about "
                f"{binary_bytes(need)} but {config.device} has {binary_bytes(free)} free: "
                f"a smaller batch size will fit")

    def _show_memory_note(self, config: TrainConfig | None) -> None:
        note = self.query_one("#memory-note", Static)
        if config is None:
            note.update("")
            return
        warning = self.memory_warning(config)
        note.set_class(warning is not None, "-warning")
        if warning:
            note.update(f"⚠ {warning}")
            return
        need = analyze(self.app.spec, config.process_batch_size).totals.training_bytes
        free = self._free_bytes.get(config.device)
        where = f"{binary_bytes(free)} free on {config.device}" if free is not None else f"checking {config.device}…"
        each = " per process" if config.nproc_per_node > 1 else ""
        note.update(f"memory: about {binary_bytes(need)} to train at batch size {config.process_batch_size}{each} "
                    f"(estimate); {where}")

    # --- start ---

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.request_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.request_start()

    def request_start(self) -> None:
        config, problems = self.read()
        if config is None:
            self.app.notify("\n".join(problems), title="Cannot start", severity="error")
            return
        self.post_message(self.StartRequested(config))
