"""The key fuzzer in the suite: a few fixed seeds of random keys at typing speed, through
every screen and dialog, never waiting for the app (benchmarks/fuzz.py has the long soak).
Both seeds crashed the app before the fixes tested in tests/app/test_hardening.py."""

from __future__ import annotations

import pytest

from benchmarks.fuzz import fuzz


@pytest.mark.slow  # thousands of keys at typing speed: seconds of real time a seed, kept out of the quick loop
@pytest.mark.parametrize("seed", [1, 2])  # both crashed the app before the fixes
def test_random_keys_at_typing_speed_never_crash_the_app(seed):
    result = fuzz(200, seed=seed, gap=0.01, session_keys=200)
    assert result.keys == 200
    assert result.crashes == []
