"""The engine in a child process, as the app drives it: events relayed in order, progress
written in batches, and a child that goes away early always explained."""

from __future__ import annotations

import dataclasses
import io
import threading

import pytest

from tui_cnn.backend.child import EventWriter
from tui_cnn.backend.train_process import TrainingProcess
from tui_cnn.domain.run_events import BatchProgress, EpochEnd, Failed, Finished, LogMessage, Paused, RunStarted, Stopped

pytestmark = pytest.mark.slow

UNTIL_STOPPED = 100_000  # epochs: the test ends the run itself


def run_in_a_child(spec, config, on_event=lambda process, event: None) -> list:
    events = []

    def listen(event):
        events.append(event)
        on_event(process, event)

    process = TrainingProcess(spec, config, listen)
    process.run()
    return events


def test_a_run_in_a_child_process_relays_every_event_and_finishes(simple_cnn, tiny_config):
    events = run_in_a_child(simple_cnn, dataclasses.replace(tiny_config, epochs=2))
    kinds = [type(event) for event in events]
    assert kinds.count(RunStarted) == 1
    assert kinds.count(EpochEnd) == 2 and kinds[-1] is Finished
    assert [e.batch for e in events if isinstance(e, BatchProgress)][:3] == [
        2,
        4,
        6,
    ]  # none lost in batching (230 training images after the 10% hold-out: 7 batches)


def test_pause_and_stop_reach_the_child(simple_cnn, tiny_config):
    config = dataclasses.replace(tiny_config, epochs=UNTIL_STOPPED, progress_every=1)

    asked = []

    def control(process, event):
        if isinstance(event, BatchProgress) and not asked:
            asked.append("pause")
            process.pause()
            give_up = threading.Timer(30, process.stop)  # ends the run even if the pause is lost
            give_up.daemon = True
            give_up.start()
        elif isinstance(event, Paused):
            threading.Timer(0.5, process.stop).start()  # stopping a paused run ends it

    events = run_in_a_child(simple_cnn, config, control)
    kinds = [type(event) for event in events]
    assert kinds[-1] is Stopped and events[-1].checkpoint
    assert Paused in kinds and BatchProgress not in kinds[kinds.index(Paused) :]  # nothing trained while paused


def test_a_child_killed_mid_run_becomes_a_failure_that_says_so(simple_cnn, tiny_config):
    config = dataclasses.replace(tiny_config, epochs=UNTIL_STOPPED)

    def kill_on_first_progress(process, event):
        if isinstance(event, BatchProgress):
            process._process.kill()

    events = run_in_a_child(simple_cnn, config, kill_on_first_progress)
    assert isinstance(events[-1], Failed)
    assert "killed by signal 9" in events[-1].reason


def test_progress_is_written_in_batches_and_other_events_at_once():
    out = io.StringIO()
    write = EventWriter(out, flush_every_s=3600)
    progress = BatchProgress(1, 2, 10, 2, 0.5, 0.5, 100.0, 1e-3, 0.1)
    write(progress)
    write(progress)
    assert out.getvalue() == ""  # held: waking the app for each would slow training
    write(LogMessage("checkpoint saved"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and '"LogMessage"' in lines[-1]


def test_an_app_that_went_away_silences_the_writer_without_an_error():
    class BrokenPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    write = EventWriter(BrokenPipe())
    write(LogMessage("started"))  # raises nothing: the run goes on to its stop
    write(LogMessage("stopped"))
    assert write.out is None


def test_a_run_directory_that_cannot_be_made_fails_in_plain_words(simple_cnn, tiny_config, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    events = run_in_a_child(simple_cnn, dataclasses.replace(tiny_config, run_dir=str(blocked / "run")))
    assert isinstance(events[-1], Failed)
    assert "cannot make the run directory" in events[-1].reason and "--run-dir" in events[-1].reason
    assert not any(isinstance(e, LogMessage) and "Traceback" in e.message for e in events)
