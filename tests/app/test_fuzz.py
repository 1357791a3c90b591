"""The key fuzzer in the suite: random keys at typing speed, in bursts, typed into text boxes,
through every screen and dialog at 80x24 and 160x50, never waiting for the app
(benchmarks/fuzz.py has the long soak). Seeds 1 and 2 crashed the app before the fixes tested
in tests/app/test_hardening.py (they run again with --heavy); the third seed is new every day (its number is in the test's
name), so the suite keeps exploring and a failure still names the seed that reproduces it:
``python -m benchmarks.fuzz 200 SEED -v``."""

from __future__ import annotations

import datetime

import pytest

from benchmarks.fuzz import fuzz

TODAYS_SEED = datetime.date.today().toordinal()


@pytest.mark.slow  # hundreds of keys at typing speed: seconds of real time a seed, kept out of the quick loop
@pytest.mark.parametrize(
    "seed",
    [pytest.param(1, marks=pytest.mark.heavy), pytest.param(2, marks=pytest.mark.heavy), TODAYS_SEED],
    ids=lambda seed: f"seed{seed}",
)
def test_random_keys_at_typing_speed_never_crash_the_app(seed):
    result = fuzz(200, seed=seed, gap=0.01, session_keys=100)  # apps at each size (more when keys quit one)
    assert result.keys == 200
    assert result.sessions >= 2
    assert result.crashes == []


def test_the_fuzz_starts_no_process_that_trains():
    """A fuzzed key that queued a run once started a real queue runner, a detached process that
    trained during the soak and after it: in the fuzz's sandbox every way the app starts a
    training process refuses (as a real one that cannot start does), and leaving it restores them."""
    from benchmarks.fuzz import _process_starts, _sandbox
    from tui_cnn.backend import launch, queue_runner, slurm, sweep

    originals = [getattr(obj, name) for obj, name, _ in _process_starts()]
    with _sandbox():
        for start in (queue_runner.queue_run, launch.start_detached, slurm.submit_run):
            with pytest.raises(OSError):
                start(None, None, None)
        assert queue_runner.ensure_runner("runs") is None and sweep.ensure_drivers("runs") is None
    assert [getattr(obj, name) for obj, name, _ in _process_starts()] == originals
