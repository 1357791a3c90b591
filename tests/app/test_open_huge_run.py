"""A long run's past opens without freezing the app: the first piece at once, the rest read
by a worker over the next ticks while the screen answers keys; its end is still the past
(no notification, no bell) and every epoch is there once it is all read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import async_wait_until, record_notifications
from tests.run_corpus import write_good_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain.run_events import BatchProgress, EpochEnd, Finished, RunStarted
from tui_cnn.domain.run_records import EpochMetrics, encode_record

EPOCHS, BATCHES = 200, 100  # ~3.7 MiB of events.jsonl: two pieces of 2 MiB


def huge_finished_run(base: Path) -> Path:
    run = write_good_run(base / "huge", epochs_done=2)
    lines = [
        encode_record(RunStarted(str(run), "SimpleCNN", {}, "cpu", "a CPU", "mnist", 256, 0, 64, 1000, EPOCHS, BATCHES))
    ]
    for epoch in range(1, EPOCHS + 1):
        lines += [
            encode_record(
                BatchProgress(epoch, batch, BATCHES, (epoch - 1) * BATCHES + batch, 1.0, 1.0, 1000.0, 1e-3, 0.1 * batch)
            )
            for batch in range(1, BATCHES + 1)
        ]
        lines.append(
            encode_record(EpochEnd(EpochMetrics(epoch, 1.0, 0.5, 1.0, 0.5 + epoch / 1000, 1e-3, 2.0, 1000.0), True))
        )
    lines.append(encode_record(Finished(EPOCHS, 0.7, 10.0)))
    (run / "events.jsonl").write_text("".join(lines))
    return run


@pytest.mark.slow
async def test_a_huge_ended_run_opens_piece_by_piece_and_the_keys_answer_meanwhile(tmp_path):
    run = huge_finished_run(tmp_path)
    assert (run / "events.jsonl").stat().st_size > 3 * 2**20  # more than one piece of 2 MiB
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(120, 40)) as pilot:
        said = record_notifications(app)
        monitor = app.screen
        monitor.load_run(str(run))
        assert 0 < len(monitor.state.epochs) < EPOCHS  # the first piece, drawn; the rest to come
        await pilot.press("l")  # the log tab, while the past is read
        assert monitor.query_one("TabbedContent").active == "log"
        await async_wait_until(
            lambda: len(monitor.state.epochs) == EPOCHS and monitor._opening is None,
            timeout=60,
            what="the whole past to be read",
        )
        await pilot.pause()
        assert monitor.state.status == "finished" and monitor.state.best_epoch == EPOCHS
        log = "".join("".join(line.text for line in monitor.query_one("#log-pane").lines).split())  # unwrapped
        assert "readingthepastof" in log and "".join(f"opened {run}: finished".split()) in log
        assert not any("finished: test accuracy" in line for line in said)  # the past notifies nothing
