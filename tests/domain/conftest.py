"""The domain tier: ``pytest tests/domain -m "not slow and not torch"`` runs the pure-Python
tests in seconds. A module marked ``torch`` (``pytestmark = pytest.mark.torch``) is then not
even imported: importing torch alone takes seconds."""

from __future__ import annotations

from pathlib import Path

TORCH_MARK = "pytestmark = pytest.mark.torch"


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix != ".py" or "not torch" not in (config.getoption("markexpr") or ""):
        return None
    return True if TORCH_MARK in collection_path.read_text(encoding="utf-8") else None
