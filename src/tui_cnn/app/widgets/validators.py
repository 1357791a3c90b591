"""A Textual validator made from one of the domain's parsers: the text is valid when the
parser accepts it, and the parser's own message is the field's error. One parser, so the
field, the CLI option and the engine can never disagree about what is valid."""

from __future__ import annotations

from typing import Any, Callable

from textual.validation import ValidationResult, Validator


class ParsedBy(Validator):
    def __init__(self, parse: Callable[[str], Any]) -> None:
        super().__init__()
        self._parse = parse

    def validate(self, value: str) -> ValidationResult:
        try:
            self._parse(value)
        except ValueError as exc:  # ArgError is one: its message says what would be valid
            return self.failure(str(getattr(exc, "message", None) or exc))
        return self.success()
