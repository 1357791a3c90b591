"""The training settings, declared once: each field of TrainConfig carries its Setting (kind,
bounds or choices, help, label), and from that one declaration come the command line's
options (cli/train.py), the monitor's set-up form (app/widgets/monitor/setup_form.py) and
the validation both use. A new setting is one ``setting(...)`` in TrainConfig.

Text is parsed by the same function everywhere, so what the CLI refuses the form refuses with
the same words, and nothing a person types is silently turned into another number (the form
once read ``1e9`` as 19 and ``2.5`` as 25).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: Seeds feed torch.manual_seed, which takes a 64-bit integer.
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Setting:
    """How one training setting is typed, bounded, explained and shown."""

    kind: type  # int, float, str or bool
    help: str
    label: str = ""  # the form's label; "" = not in the form
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False  # the minimum itself is not allowed
    max_open: bool = False
    optional: bool = False  # None allowed (blank in the form, option left out on the CLI)
    cli: bool = True  # a command-line option is made for it
    flag: str = ""  # for a bool: the CLI flag that sets the non-default value, e.g. "--no-amp"
    short: str = ""  # a one-letter CLI alias, e.g. "-b"
    placeholder: str = ""  # the form's hint for a blank optional field

    def bounds_text(self) -> str:
        low = "" if self.minimum is None else f"{'>' if self.min_open else '>='} {_number(self.minimum)}"
        high = "" if self.maximum is None else f"{'<' if self.max_open else '<='} {_number(self.maximum)}"
        return " and ".join(part for part in (low, high) if part)

    def words(self, name: str) -> str:
        """What messages call the setting: its label, else its name in words."""
        return self.label or name.replace("_", " ")


def setting(default: Any, help: str, **options: Any) -> Any:
    """A TrainConfig field with its declaration (``kind`` from the default unless given)."""
    kind = options.pop("kind", type(default))
    return field(default=default, metadata={"setting": Setting(kind=kind, help=help, **options)})


class SettingError(ValueError):
    """A value a setting does not take; the message says what it takes."""


def parse_setting(name: str, spec: Setting, text: str) -> Any:
    """The value typed as ``text`` (form or command line), checked; SettingError if refused."""
    text = text.strip()
    if not text:
        if spec.optional:
            return None
        raise SettingError(f"{spec.words(name)} is required")
    if spec.kind is bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise SettingError(f"{spec.words(name)} must be yes or no, got {text!r}")
    if spec.kind is int:
        return check_setting(name, spec, _parse_int(name, spec, text))
    if spec.kind is float:
        try:
            value = float(text)
        except ValueError:
            raise SettingError(f"{spec.words(name)} must be a number, got {text!r}") from None
        return check_setting(name, spec, value)
    return check_setting(name, spec, text)


def _parse_int(name: str, spec: Setting, text: str) -> int:
    """A whole number: ``64``, ``1_000``, or a float that is one (``1e3`` = 1000); never a
    number cut or rounded into another."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{spec.words(name)} must be a whole number, got {text!r}") from None
    if not math.isfinite(value) or not value.is_integer():
        raise SettingError(f"{spec.words(name)} must be a whole number, got {text!r}")
    return int(value)


def check_setting(name: str, spec: Setting, value: Any) -> Any:
    """``value`` if the setting takes it; else SettingError saying what it takes."""
    if value is None:
        if spec.optional:
            return None
        raise SettingError(f"{spec.words(name)} is required")
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise SettingError(f"{spec.words(name)} must be true or false, got {value!r}")
        return value
    if spec.kind in (int, float):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (spec.kind is int and not isinstance(value, int))
        ):
            raise SettingError(
                f"{spec.words(name)} must be a {'whole ' if spec.kind is int else ''}number, got {value!r}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingError(f"{spec.words(name)} must be a finite number, got {value}")
        too_low = spec.minimum is not None and (value <= spec.minimum if spec.min_open else value < spec.minimum)
        too_high = spec.maximum is not None and (value >= spec.maximum if spec.max_open else value > spec.maximum)
        if too_low or too_high:
            raise SettingError(f"{spec.words(name)} must be {spec.bounds_text()}, got {_number(value)}")
        return value
    if not isinstance(value, str):
        raise SettingError(f"{spec.words(name)} must be text, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise SettingError(f"{spec.words(name)} must be one of {', '.join(spec.choices)}, got {value!r}")
    if "\x00" in value:
        raise SettingError(f"{spec.words(name)} cannot hold a NUL character")
    return value


def _number(value: float) -> str:
    """1,024 / 0.001 / 1e+30: whole numbers grouped (up to 2**63), others as %g."""
    if isinstance(value, int) and abs(value) <= 2**63:
        return f"{value:,}"
    return f"{value:g}"
