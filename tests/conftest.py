"""Shared fixtures."""

from __future__ import annotations

import pytest

from tui_cnn.domain import load_preset
from tui_cnn.domain.spec import ModelSpec


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path, monkeypatch):
    """Each test has its own $XDG_STATE_HOME: a crash recovery file a test writes never
    reaches the user's, and the user's never makes the app open on a restore dialog."""
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


@pytest.fixture
def simple_cnn() -> ModelSpec:
    return load_preset("SimpleCNN")


@pytest.fixture
def on_a_terminal(monkeypatch):
    """The command line as if run in a terminal: CliRunner's stdin and stdout are not one,
    and the app commands refuse to start without a terminal."""
    monkeypatch.setattr("tui_cnn.cli.common.stdio_is_terminal", lambda: True)
