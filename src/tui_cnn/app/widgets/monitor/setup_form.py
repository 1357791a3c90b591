"""The run set-up form: one field for each training setting declared with a label
(domain/train_config.py: dataset, data folder, epochs, batch size, optimizer, learning rate, ...),
checked as it is typed by the same parser the command line uses, its error beside it; then
what ties the settings to the model (the dataset's shape) and the shape engine's
training-memory estimate against the device's free memory, so an out-of-memory shows before
the run starts."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static

from ....backend import slurm
from ....backend.train_process import too_many_processes
from ....domain.datasets import DATASET_NAMES, DATASETS, default_dataset, training_images
from ....domain.format import binary_bytes
from ....domain.model_source import check_source_matches, is_module
from ....domain.settings import SettingError, parse_setting
from ....domain.shapes import Totals, analyze
from ....domain.slurm import SLURM_SETTINGS, SlurmOptions
from ....domain.train_config import SETTINGS, TrainConfig
from ..typed_input import TypedInput
from ..validators import ParsedBy

#: The settings the form shows, in their declared order.
FORM_SETTINGS = {name: declared for name, declared in SETTINGS.items() if declared.label}


class RunSetupForm(VerticalScroll):
    class StartRequested(Message):
        def __init__(self, config: TrainConfig) -> None:
            super().__init__()
            self.config = config

    class DeviceChosen(Message):
        """The screen answers with ``show_device`` (NVML and the OS, in a worker)."""

        def __init__(self, device: str) -> None:
            super().__init__()
            self.device = device

    def __init__(self, base: TrainConfig, **kwargs) -> None:
        """``base`` fills the fields and carries the settings the form does not show."""
        super().__init__(**kwargs)
        self._base = base
        self._free_bytes: dict[str, int | None] = {}  # device name -> free bytes, once known
        self._device_problems: dict[str, str | None] = {}  # device name -> why it cannot train here
        self._device_kinds: dict[str, str] = {}  # device name -> what it resolves to ("auto" -> "cpu")
        #: SLURM's fields are shown where jobs can be submitted (sbatch on the PATH)
        self._slurm = slurm.available()

    def compose(self) -> ComposeResult:
        with Grid(id="setup-fields"):
            for name, declared in FORM_SETTINGS.items():
                yield Label(declared.label, classes="field-label")
                with Vertical(classes="field-box"):
                    yield self._field(name, getattr(self._base, name))
                    yield Static("", id=f"error-{name}", classes="field-error").set_styles("display: none;")
        if self._slurm:
            yield Static(
                "SLURM: [b]S[/b] submits the run set up above as a job of these", id="slurm-title", classes="note"
            )
            with Grid(id="slurm-fields"):
                for name, declared in SLURM_SETTINGS.items():
                    yield Label(declared.label, classes="field-label")
                    with Vertical(classes="field-box"):
                        yield TypedInput(
                            "1" if name == "nodes" else "",
                            compact=True,
                            id=f"slurm-{name}",
                            validators=[ParsedBy(partial(parse_setting, name, declared))],
                            tooltip=declared.help.removeprefix("--slurm: "),
                            placeholder=declared.placeholder,
                        )
            yield Static("", id="slurm-problems", classes="field-error")
        yield Button("Start training (r)", id="start", variant="success", compact=True)
        yield Static("", id="problems", classes="note")
        yield Static("", id="dataset-note", classes="note")
        yield Static("", id="memory-note", classes="note")

    @staticmethod
    def _field(name: str, value) -> TypedInput | Select:
        declared = SETTINGS[name]
        if declared.choices:
            return Select(
                [(choice, choice) for choice in declared.choices],
                value=value,
                allow_blank=False,
                compact=True,
                id=f"field-{name}",
                tooltip=declared.help,
            )
        if declared.kind is bool:  # a choice of two, read and changed like the other choices
            return Select(
                [("on", True), ("off", False)],
                value=bool(value),
                allow_blank=False,
                compact=True,
                id=f"field-{name}",
                tooltip=declared.help,
            )
        # A plain text field: no key filter, no length cut, so what is typed stays what was
        # typed; the declaration's parser says what is wrong with it, beside the field.
        return TypedInput(
            "" if value is None else str(value),
            compact=True,
            id=f"field-{name}",
            validators=[ParsedBy(partial(parse_setting, name, declared))],
            tooltip=declared.help,
            placeholder=declared.placeholder,
        )

    def on_mount(self) -> None:
        self.watch(self.app, "spec", lambda _: self._spec_changed(), init=False)
        self.recheck()
        self.post_message(self.DeviceChosen(self._base.device))

    def _spec_changed(self) -> None:
        """A built-in dataset the new model cannot take gives way to the one it can (a 3x32x32
        model trains on CIFAR-10, not the MNIST sample)."""
        dataset = self.query_one("#field-dataset", Select)
        info = DATASETS.get(str(dataset.value))
        if info is not None and info.input_shape != tuple(self.app.spec.input_shape):
            fitting, _ = default_dataset(self._data_dir(), self.app.spec.input_shape)
            if DATASETS[fitting].input_shape == tuple(self.app.spec.input_shape):
                dataset.value = fitting
        self.recheck()

    def _data_dir(self) -> str | None:
        return self.query_one("#field-data_dir", Input).value.strip() or None

    # --- values ---

    def fill(self, config: TrainConfig) -> None:
        """Show a run's settings (e.g. the one `tui-cnn train` started)."""
        self._base = config
        for name in FORM_SETTINGS:
            value = getattr(config, name)
            field = self.query_one(f"#field-{name}")
            if isinstance(field, Input):
                field.value = "" if value is None else str(value)
            else:
                field.value = value

    def _field_values(self) -> tuple[dict, dict[str, str]]:
        """Each field's value, and each field's problem (by setting name)."""
        values, errors = {}, {}
        for name, declared in FORM_SETTINGS.items():
            field = self.query_one(f"#field-{name}")
            if isinstance(field, Input):
                try:
                    values[name] = parse_setting(name, declared, field.value)
                except SettingError as exc:
                    errors[name] = str(exc)
            else:
                values[name] = field.value
        device_problem = self._device_problems.get(values.get("device"))
        if device_problem and "device" not in errors:
            errors["device"] = device_problem
        return values, errors

    def typed(self) -> TrainConfig | None:
        """The settings the fields hold, whether or not a run could start with them (None while
        a field holds what its setting does not take)."""
        values, errors = self._field_values()
        return None if errors else replace(self._base, **values)

    def read(self) -> tuple[TrainConfig | None, list[str]]:
        """The config the fields describe, or the problems that stop it, in words."""
        values, errors = self._field_values()
        if errors:
            return None, list(errors.values())
        config = replace(self._base, **values)
        problems = config.validate()
        if not problems:  # the machine has the GPUs or cores for the processes (NVML and the OS)
            problems += filter(None, [too_many_processes(config.nproc_per_node, config.device)])
        model = self.app.model_to_train()
        if not is_module(model) and not analyze(model, config.batch_size).valid:
            problems.append(f"{model.name} has errors: fix them in the builder (2)")
        mismatch = (
            check_source_matches(model, config.dataset, config.data_dir) if config.dataset in DATASET_NAMES else None
        )
        if mismatch:
            problems.append(mismatch)
        return (None if problems else config), problems

    def slurm_job(self) -> tuple[TrainConfig | None, SlurmOptions | None, list[str]]:
        """The run and the SLURM job the fields describe, or the problems that stop them."""
        config, problems = self.read()
        options, slurm_problems = self._slurm_fields(config)
        return config, options, problems + slurm_problems

    def _slurm_fields(self, config: TrainConfig | None = None) -> tuple[SlurmOptions | None, list[str]]:
        """The job the SLURM fields describe (ranks per node: ``config``'s processes), or why not."""
        texts = {name: self.query_one(f"#slurm-{name}", Input).value for name in SLURM_SETTINGS}
        processes = config.nproc_per_node if config is not None else 1
        options, errors = SlurmOptions.typed(texts, processes)
        return options, list(errors.values())

    # --- checks shown under the fields ---

    def on_input_changed(self, event: Input.Changed) -> None:
        self.recheck()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "field-device":
            self.post_message(self.DeviceChosen(str(event.value)))
        self.recheck()

    def show_device(
        self, device: str, free_bytes: int | None, problem: str | None = None, *, kind: str | None = None
    ) -> None:
        """What the screen found out about ``device``: what it resolves to (``kind``: auto is
        cuda, mps or cpu), its free memory, or why it cannot train here."""
        self._free_bytes[device] = free_bytes
        if kind is not None:
            self._device_kinds[device] = kind
        self._device_problems[device] = problem
        self.recheck()

    def recheck(self) -> None:
        _, errors = self._field_values()
        for name in FORM_SETTINGS:
            error = errors.get(name)
            shown = self.query_one(f"#error-{name}", Static)
            shown.update(f"✗ {error}" if error else "")
            shown.display = error is not None
            self.query_one(f"#field-{name}").set_class(error is not None, "-invalid")
        config, problems = self.read()
        # Field errors stand beside their fields; the list under the button holds the rest.
        others = [problem for problem in problems if problem not in errors.values()]
        self.query_one("#problems", Static).update("\n".join(f"✗ {p}" for p in others))
        self.query_one("#start", Button).disabled = bool(problems)
        self._show_dataset_note()
        self._show_memory_note(config)
        self._show_slurm_problems()

    def _show_slurm_problems(self) -> None:
        """What the SLURM fields hold that a job does not take, as typed (the run's own checks
        are the form's, above)."""
        if not self._slurm:
            return
        _, problems = self._slurm_fields()
        self.query_one("#slurm-problems", Static).update("\n".join(f"✗ {problem}" for problem in problems))

    def _show_dataset_note(self) -> None:
        name, reason = default_dataset(self._data_dir(), self.app.spec.input_shape)
        self.query_one("#dataset-note", Static).update(f"default dataset: {name} ({reason})")

    def _device_name(self, device: str) -> str:
        """The device as it will train: "auto" said as what it resolves to here."""
        kind = self._device_kinds.get(device)
        return f"{kind} (auto)" if device == "auto" and kind else device

    def _training_bytes(self, totals: Totals, config: TrainConfig) -> int:
        """The estimate in the precision the run will train in: bf16 autocast on CUDA unless
        --no-amp, float32 elsewhere."""
        on_cuda = (self._device_kinds.get(config.device) or config.device) == "cuda"
        return totals.training_bytes_mixed if on_cuda and config.amp else totals.training_bytes

    @staticmethod
    def _step_batch(config: TrainConfig) -> tuple[int, int | None]:
        """The batch one process trains at, and the training images when the batch is larger than
        them (a step then takes every image: the batch cannot outgrow the training set)."""
        images = training_images(config.dataset, config.val_fraction)
        batch = config.process_batch_size
        if images is not None:
            share = -(-images // config.nproc_per_node)  # each process trains on its share
            if batch > share:
                return share, images
        return batch, None

    def memory_warning(self, config: TrainConfig) -> str | None:
        """Why the run will not fit on the device, or None (fits, or not known yet). With
        several processes each GPU trains on its share of the batch. Not known for a user's
        own module (the shape engine reads specs)."""
        if is_module(self.app.model_to_train()):
            return None
        batch, _ = self._step_batch(config)
        analysis = analyze(self.app.spec, batch)
        free = self._free_bytes.get(config.device)
        if not analysis.valid or free is None:
            return None
        need = self._training_bytes(analysis.totals, config)
        if need <= free:
            return None
        return (
            f"training {self.app.spec.name} at batch size {batch} needs about "
            f"{binary_bytes(need)} but {self._device_name(config.device)} has {binary_bytes(free)} free: "
            f"a smaller batch size will fit"
        )

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
        model = self.app.model_to_train()
        if is_module(model):
            note.update(f"training memory: not estimated for your own module {model.target}")
            return
        batch, images = self._step_batch(config)
        need = self._training_bytes(analyze(model, batch).totals, config)
        free = self._free_bytes.get(config.device)
        device = self._device_name(config.device)
        if free is not None:
            where = f"{binary_bytes(free)} free on {device}"
        elif config.device in self._free_bytes:  # known, but the device reports no free figure (MPS)
            where = f"{device}: free memory not reported"
        else:
            where = f"checking {device}…"
        each = " per process" if config.nproc_per_node > 1 else ""
        larger = (
            f"batch size {config.process_batch_size:,} is larger than the {images:,} training images, "
            f"so each step takes all of them; "
            if images is not None
            else ""
        )
        note.update(
            f"memory: {larger}about {binary_bytes(need)} to train at batch size {batch:,}{each} (estimate); {where}"
        )

    # --- start ---

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.request_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter confirms the field and moves on to the next one; it never starts a run (a
        run is minutes of a GPU and a new directory): r or the start button does."""
        event.stop()
        self.recheck()
        self.screen.focus_next()

    def request_start(self) -> None:
        config, problems = self.read()
        if config is None:
            self.app.notify("\n".join(problems), title="Cannot start", severity="error")
            return
        self.post_message(self.StartRequested(config))
