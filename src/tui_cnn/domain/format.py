"""How numbers, shapes and layers are written for people: 50,186; 16.1M; 1.9 MiB;
(64, 32, 28, 28); Conv2d(1, 32, kernel_size=3, padding=1); and names from files made safe to
print: ``Evil\x1b]0;title\x07``."""

from __future__ import annotations

import math
import re
import time
from typing import Any, Mapping

from .layers import LAYER_TYPES


def percent(fraction: float | None, digits: int = 2, unknown: str = "") -> str:
    """0.375 as 37.50%; ``unknown`` when there is none (or it is not a finite number)."""
    return f"{fraction * 100:.{digits}f}%" if fraction is not None and math.isfinite(fraction) else unknown


def cut(text: str, width: int, keep_end: bool = False) -> str:
    """``text`` in at most ``width`` characters, an ellipsis where it was cut. A run's name
    keeps its end (``…-resnet18-lr0.1``): its start is a date shared by many."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    return "…" + text[-(width - 1) :] if keep_end else text[: width - 1] + "…"


def grouped(n: int) -> str:
    return f"{n:,}"


def count(n: int, noun: str) -> str:
    """1 epoch, 3 epochs, 1,000 epochs: the number grouped, the noun plural unless one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def compact(n: float) -> str:
    """16.1M, 401K, 3.2G: three significant figures at most, for tables. Rounded before the
    unit is chosen, so 999,999 is 1M rather than 1000K."""
    rounded = float(f"{n:.3g}")
    if abs(rounded) >= 1e18:  # past quintillions no unit reads better than the exponent
        return f"{rounded:.3g}"
    for unit, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(rounded) >= scale:
            return f"{rounded / scale:.3g}{unit}" if abs(rounded) < 1000 * scale else f"{rounded / scale:.0f}{unit}"
    return f"{n:g}" if isinstance(n, float) else str(n)


_BINARY_UNITS = tuple(
    (unit, 1 << (10 * power))
    for power, unit in reversed(list(enumerate(("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"), start=1)))
)


def binary_bytes(n: float) -> str:
    """1.9 MiB, 384.0 KiB, 1023 B; 1.0 MiB rather than 1024.0 KiB; up to YiB, then YiB with
    as many digits as it takes (657.0 GiB, 1.5 TiB, 3.6 PiB)."""
    for unit, scale in _BINARY_UNITS:
        if abs(n) >= scale or (abs(n) >= 1 << 10 and round(abs(n) / scale, 1) >= 1):
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def dims(values: tuple[int, ...]) -> str:
    """64x7x7: sizes as people say them."""
    return "x".join(str(v) for v in values)


def per_sample(shape: tuple[int, ...] | None) -> str:
    """A shape without its batch dimension, which every layer shares: 32x28x28, 3136."""
    return "?" if shape is None else dims(shape[1:])


def shape(value: tuple[int | str, ...] | None) -> str:  # str: a symbolic size, e.g. "N"
    if value is None:
        return "?"
    return "(" + ", ".join(str(v) for v in value) + ")"


def _literal(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        value = value[0]
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"  # repr(nan) is `nan`, a NameError in generated code
    return repr(value)


#: What a terminal acts on rather than shows: C0 controls (ESC starts a sequence that can set the
#: window title or write to the clipboard, BEL ends one, NUL...), DEL, C1 controls (0x9b is a
#: one-byte CSI), the bidi embeddings, overrides and isolates that turn text around (U+202A-202E,
#: U+2066-2069: "Trojan source"), and the line and paragraph separators.
CONTROL_CHARACTERS = frozenset(
    [
        *map(chr, range(0x00, 0x20)),
        "\x7f",
        *map(chr, range(0x80, 0xA0)),
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
        "\u2028",
        "\u2029",
    ]
)
_VISIBLE_ESCAPES = {
    ord(char): (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}") for char in CONTROL_CHARACTERS
} | {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r"}
_LINES_KEPT = {**_VISIBLE_ESCAPES, ord("\n"): "\n"}


def printable(text: str) -> str:
    """``text`` safe to print on one line: each control character written as Python writes it
    in a string (``\x1b``, ``\x00``, ``\u202e``, ``\n``), so a name from a file or a folder
    is shown as it is and cannot act on the terminal (set its title, reverse the line)."""
    return text.translate(_VISIBLE_ESCAPES)


def printable_lines(text: str) -> str:
    """``printable`` for a message of several lines: its newlines are kept."""
    return text.translate(_LINES_KEPT)


_DROPPED = dict.fromkeys(map(ord, CONTROL_CHARACTERS))
_ANY_CONTROL = re.compile("[" + "".join(sorted(map(re.escape, CONTROL_CHARACTERS))) + "]")


def has_controls(text: str) -> bool:
    return _ANY_CONTROL.search(text) is not None


def without_controls(text: str) -> str:
    """``text`` with its control characters left out: for text already laid out, where a
    visible escape would not fit in the room measured for it (control characters take none)."""
    return text.translate(_DROPPED)


def layer_call(type_name: str, args: Mapping[str, Any]) -> str:
    """The layer as it is written in PyTorch code, defaults left out:
    ``Conv2d(1, 32, kernel_size=3, padding=1)``."""
    ltype = LAYER_TYPES.get(type_name)
    if ltype is None:  # a name from a file, not one of ours: printable (strings are repr'd)
        inner = ", ".join(f"{printable(k)}={_literal(v)}" for k, v in args.items())
        return f"{printable(type_name)}({inner})"
    parts = []
    for field in ltype.fields:
        if field.name not in args:
            if field.name in ltype.always_shown and field.default is not None:
                parts.append(f"{field.name}={_literal(field.default)}")
            continue
        value = args[field.name]
        if field.name in ltype.positional:
            parts.append(_literal(value))
        elif field.name in ltype.always_shown or value != field.default:
            parts.append(f"{field.name}={_literal(value)}")
    extra = [f"{printable(k)}={_literal(v)}" for k, v in args.items() if ltype.field(k) is None]
    return f"{type_name}({', '.join(parts + extra)})"


def duration(seconds: float | None, unknown: str = "--") -> str:
    """0:07, 12:34, 1:02:03; ``unknown`` when it is not a time (None, NaN, negative)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return unknown
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def local_time(timestamp: float | None, pattern: str) -> str:
    """``timestamp`` (time.time()) as local time, by strftime's ``pattern``; blank for one no
    clock can show (None, 0, NaN, 1e300: what a hand-edited or corrupted run file may hold)."""
    if not timestamp or not math.isfinite(timestamp):
        return ""
    try:
        return time.strftime(pattern, time.localtime(timestamp))
    except (OverflowError, OSError, ValueError):
        return ""
