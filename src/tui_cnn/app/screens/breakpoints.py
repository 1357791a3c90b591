"""A screen's width class (Textual's HORIZONTAL_BREAKPOINTS) from the moment it is made."""

from __future__ import annotations

from textual.types import NoActiveAppError


def breakpoint_class(width: int, breakpoints: list[tuple[int, str]]) -> str | None:
    """The class of the widest breakpoint ``width`` reaches, as Textual chooses it."""
    for least_width, class_name in sorted(breakpoints, reverse=True):
        if width >= least_width:
            return class_name
    return None


class BreakpointsFromTheStart:
    """Mixed into a Screen (before it in the bases) that has HORIZONTAL_BREAKPOINTS.

    Textual sets the class on the screen's first resize, after every widget has been styled
    once, and then styles them all again: on the tracker, 24 ms of its ~110 ms from the
    start of the app to its first frame. Set from the app's size when the screen is made,
    the class is already right on that resize and nothing is styled twice."""

    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        try:
            width = self.app.size.width  # type: ignore[attr-defined]
        except NoActiveAppError:  # made outside a running app: the first resize sets it
            return
        chosen = breakpoint_class(width, self.HORIZONTAL_BREAKPOINTS or [])
        if chosen is not None:
            self.add_class(chosen, update=False)  # type: ignore[attr-defined]  # styled when mounted
