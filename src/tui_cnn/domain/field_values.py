"""Field text to argument values and back, as people type them in the builder's form:
``3``, ``3,5`` or ``(3, 5)``, ``same``, ``true``, ``0.25``, ``1e-5``, empty for the default.
Pure Python (in the domain, with the layer catalogue it answers to).

A value is accepted only if the layer catalogue's own parser accepts it, so the model only
ever takes values PyTorch would; anything else stays an inline error on the field."""

from __future__ import annotations

from typing import Any

from .layers import ArgError, Field

_WORDS = {"true": True, "false": False, "none": None}


def _scalar(word: str) -> Any:
    word = word.strip().strip("'\"")
    if word.lower() in _WORDS:
        return _WORDS[word.lower()]
    for number in (int, float):
        try:
            return number(word)
        except ValueError:
            pass
    if word.isidentifier():
        return word  # 'same', 'zeros', 'tanh': the field's parser decides
    raise ValueError(f"{word!r} is not a number, a pair like 3,5, true/false or a word like same")


def parse_text(text: str) -> Any:
    """``"3"`` -> 3, ``"(3, 5)"`` -> (3, 5), ``"same"`` -> "same"; ValueError if none fits."""
    text = text.strip()
    if text[:1] in "([" and text[-1:] in ")]":
        text = text[1:-1]
    if "," in text:
        return tuple(_scalar(part) for part in text.split(",") if part.strip())
    return _scalar(text)


def parse_field(field: Field, text: str) -> Any:
    """The argument value for a field's text; None leaves the argument out (PyTorch's default,
    or inferred). Raises ArgError with a message fit for the field's inline error."""
    if not text.strip():
        if field.required:
            raise ArgError(f"{field.name} is required")
        return None
    try:
        value = parse_text(text)
    except ValueError as exc:
        raise ArgError(str(exc)) from None
    if value is None:
        return None
    field.parse(value, field.name)  # raises ArgError for what PyTorch would reject
    return value


def show_value(value: Any) -> str:
    """How a value is written in a field: 3, 3, 5, same, true, 0.5."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(show_value(v) if v is not None else "none" for v in value)
    return str(value)


def parse_positive_int(text: str, name: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ArgError(f"{name} must be a positive integer, got {text!r}", f"e.g. {name} = 10")
    return value
