"""Shared fixtures."""

from __future__ import annotations

import pytest

from tui_cnn.domain import load_preset
from tui_cnn.domain.spec import ModelSpec


@pytest.fixture
def simple_cnn() -> ModelSpec:
    return load_preset("SimpleCNN")
