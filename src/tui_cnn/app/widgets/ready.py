"""Keys for a screen still being built. A screen's number and one of its keys in one read
("2c", as SSH delivers a burst) reach the screen's bindings while it is still mounting its
widgets: the builder's "c" then mounted form fields into a form not yet mounted (MountError,
the app died; found by the key fuzzer), and ctrl+p then down reached the command palette
before its list existed (NoMatches). Until a screen is mounted its keys do nothing."""

from __future__ import annotations


class KeysWaitForMount:
    """Mixed into a Screen (before it in the bases): its actions are refused until it is mounted."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return False
        return super().check_action(action, parameters)
