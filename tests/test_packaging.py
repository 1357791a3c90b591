"""pyproject.toml takes torch and torchvision as ranges (a GPU box keeps its own torch), and
the two ranges must start and end on pairs built for each other: pip takes the newest of
each, and torchvision's metadata alone would let it pair with a newer torch."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

#: torchvision 0.19 was built for torch 2.4, 0.29 for 2.14: one minor each, in step.
TORCHVISION_MINOR_OFFSET = 15


def _bounds(requirement: str) -> tuple[tuple[int, int], tuple[int, int]]:
    lower = re.search(r">=\s*(\d+)\.(\d+)", requirement)
    upper = re.search(r"<\s*(\d+)\.(\d+)", requirement)
    assert lower and upper, f"{requirement}: a range with a lower and an upper bound"
    return (int(lower[1]), int(lower[2])), (int(upper[1]), int(upper[2]))


def test_torch_and_torchvision_ranges_start_and_end_on_matched_pairs():
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = {
        re.match(r"[\w-]+", dependency)[0]: dependency for dependency in pyproject["project"]["dependencies"]
    }
    torch_range, vision_range = _bounds(requirements["torch"]), _bounds(requirements["torchvision"])
    for (torch_major, torch_minor), (vision_major, vision_minor) in zip(torch_range, vision_range):
        assert torch_major == 2 and vision_major == 0
        assert vision_minor == torch_minor + TORCHVISION_MINOR_OFFSET, (
            requirements["torch"],
            requirements["torchvision"],
        )
    assert "==" not in requirements["torch"], "an exact pin makes pip replace a GPU box's own torch"
