"""An Input whose editing keys keep their place among the typed characters.

Textual's Input inserts a printable character in its own key handler, but an editing key
bound on it (ctrl+k, backspace, home, ...) bubbles up through every ancestor to the app
before its action runs, so at typing speed (or under load) the next character can land
first: ctrl+a ctrl+k then "-1" gave "1" in the setup form's batch size (Textual issue 6605,
the fix proposed in its PR 6631). This Input runs its own non-priority bindings inline,
in the order the keys came; priority bindings are still the app's, checked before the key
reaches the widget, and keys it does not bind still bubble."""

from __future__ import annotations

from textual import events
from textual.binding import Binding, BindingsMap
from textual.widgets import Input


class TypedInput(Input):
    async def on_key(self, event: events.Key) -> None:
        binding = self._own_binding(event.key)
        if binding is None or event.is_printable:
            return
        event.stop()
        event.prevent_default()
        await self.run_action(binding.action)

    @classmethod
    def _own_binding(cls, key: str) -> Binding | None:
        """The binding this class (and its bases) declare for ``key``, not a priority one."""
        bindings = BindingsMap(
            [binding for klass in reversed(cls.__mro__) for binding in getattr(klass, "BINDINGS", ())]
        )
        own = [binding for binding in bindings.key_to_bindings.get(key, ()) if not binding.priority]
        return own[-1] if own else None  # a subclass's binding comes after its base's
