"""The run files' one schema, read back from a hostile corpus: a reader keeps what is sound,
names what is not in one line each, and never raises for a bad line or a half-written one."""

from __future__ import annotations

import json
import math

import pytest

from tests.run_corpus import SPOILERS, epoch_line, spoiled_run, write_good_run
from tui_cnn.domain.run_events import EpochEnd, Finished, event_from_json, event_from_line, event_to_json
from tui_cnn.domain.run_files import EventFollower, read_events, read_metrics, read_process, read_run_config
from tui_cnn.domain.run_records import EpochMetrics, RunFileError, RunRequest
from tui_cnn.domain.run_state import RunState
from tui_cnn.domain.specfile import spec_to_dict
from tui_cnn.domain.train_config import TrainConfig


def test_a_good_run_reads_whole(tmp_path):
    state = RunState.from_run_dir(write_good_run(tmp_path / "run"))
    assert [m.epoch for m in state.epochs] == [1, 2] and state.epochs_total == 3
    assert state.model == "SimpleCNN" and state.dataset == "mnist" and state.evaluation.accuracy == 0.5
    assert state.problems == []


@pytest.mark.parametrize("name", sorted(SPOILERS))
def test_every_reader_answers_a_spoiled_run_in_words(tmp_path, name):
    run_dir = spoiled_run(tmp_path, name)
    opens, _ = SPOILERS[name]
    if not opens:
        with pytest.raises(RunFileError) as raised:
            RunState.from_run_dir(run_dir)
        message = str(raised.value)
        assert "\n" not in message and "config.json" in message
        return
    state = RunState.from_run_dir(run_dir)
    assert all("\n" not in problem for problem in state.problems)
    problems = []
    read_events(run_dir, problems)  # the events too: bad lines skipped, not raised
    assert all("\n" not in problem for problem in problems)


def test_a_half_written_last_line_is_a_run_still_writing_not_a_problem(tmp_path):
    run_dir = spoiled_run(tmp_path, "metrics-truncated-last-line")
    problems = []
    assert [m.epoch for m in read_metrics(run_dir, problems)] == [1] and problems == []


def test_a_bad_line_loses_only_itself_and_is_named(tmp_path):
    run_dir = spoiled_run(tmp_path, "metrics-garbage-line")
    problems = []
    assert [m.epoch for m in read_metrics(run_dir, problems)] == [1, 2]
    assert problems == ["metrics.jsonl line 2: not JSON"]


def test_wrong_types_are_refused_with_the_field_named(tmp_path):
    problems = []
    read_metrics(spoiled_run(tmp_path, "metrics-wrong-types"), problems)
    assert "val_acc" in problems[0] and "epoch" in problems[1]


def test_a_field_a_newer_trainer_adds_leaves_its_runs_readable(tmp_path):
    """Forward compatibility: a new field in any run file (metrics, config, events, eval,
    process) is ignored by a reader that does not know it, never a run made unreadable."""
    problems = []
    assert [m.epoch for m in read_metrics(spoiled_run(tmp_path, "metrics-unknown-field"), problems)] == [1]
    assert problems == []
    run_dir = spoiled_run(tmp_path, "config-unknown-field")
    (run_dir / "eval.json").write_text(json.dumps({**json.loads((run_dir / "eval.json").read_text()), "new": 1}))
    (run_dir / "process.json").write_text(json.dumps({"pid": 1, "host": "h", "started_at": 1.0, "create_time": 2.0}))
    event = {**event_to_json(Finished(1, 0.5, 1.0)), "new": [1]}
    state = RunState.from_run_dir(run_dir)
    assert state.problems == [] and state.evaluation.accuracy == 0.5
    assert read_process(run_dir).pid == 1 and event_from_json(event) == Finished(1, 0.5, 1.0)


def test_a_run_request_is_one_record_both_sides_read(simple_cnn):
    """What starts a training process (launch, TrainingProcess) is a RunRequest, its types
    checked when the child decodes it; a bad one is one line, not a traceback."""
    request = RunRequest(spec_to_dict(simple_cnn), TrainConfig(epochs=2, lr=float("nan")))
    decoded = RunRequest.decode(request.encode())
    assert decoded.model_spec() == simple_cnn and decoded.config.epochs == 2
    assert decoded.config.validate()  # the NaN arrives, to be refused in words by the trainer
    for bad in ('{"spec": {}, "config": {"epochs": "three"}}', "{not json", "[1]"):
        with pytest.raises(RunFileError) as raised:
            RunRequest.decode(bad)
        assert "\n" not in str(raised.value) and "run request" in str(raised.value)


def test_nan_the_trainer_wrote_reads_back_as_nan(tmp_path):
    state = RunState.from_run_dir(spoiled_run(tmp_path, "metrics-nan-and-infinity"))
    assert math.isnan(state.epochs[0].train_loss) and state.epochs[0].val_loss == math.inf
    assert state.best_epoch == 1  # a -inf / NaN accuracy is never the best


def test_settings_of_a_wrong_type_keep_the_run_readable_and_refuse_to_resume(tmp_path):
    run_dir = spoiled_run(tmp_path, "config-epochs-a-string")
    state = RunState.from_run_dir(run_dir)
    assert len(state.epochs) == 2 and "epochs" in state.problems[0]
    with pytest.raises(RunFileError, match="epochs"):
        read_run_config(run_dir).train_config()


def test_events_round_trip_through_the_schema():
    event = EpochEnd(EpochMetrics(1, 0.5, 0.9, 0.6, 0.8, 1e-3, 1.0, 100.0), best=True)
    import json

    assert event_from_line(json.dumps(event_to_json(event))) == event
    assert event_to_json(event)["event"] == "EpochEnd"
    assert event_from_line('{"event": "EpochEnd", "metrics": 5, "best": true}') is None
    assert event_from_line('{"event": "Nope"}') is None and event_from_line('{"ev') is None


# --- following events.jsonl while a run writes it (the monitor attached to a live run) ---


def _event_lines(*epochs: int) -> str:
    """events.jsonl lines as the trainer writes them, an EpochEnd for each epoch."""
    return "".join(
        json.dumps(event_to_json(EpochEnd(EpochMetrics(**json.loads(epoch_line(e))), best=False))) + "\n"
        for e in epochs
    )


def test_a_follower_reads_what_was_appended_and_waits_for_a_half_written_line(tmp_path):
    events = tmp_path / "events.jsonl"
    follower = EventFollower(tmp_path)
    assert follower.read_new() == []  # not written yet: a run still starting
    whole = _event_lines(1, 2, 3)
    first, second, third = whole.splitlines(keepends=True)
    events.write_text(first + second[:17])  # the writer is in the middle of line 2
    assert [e.metrics.epoch for e in follower.read_new()] == [1]
    assert follower.read_new() == []  # nothing new: the half line is not read twice, nor as a problem
    with events.open("a") as out:
        out.write(second[17:] + third)
    assert [e.metrics.epoch for e in follower.read_new()] == [2, 3]
    assert follower.problems == [] and follower.caught_up


def test_a_follower_skips_bad_lines_in_words_and_rereads_a_replaced_file(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(_event_lines(1) + "{garbage\n" + '{"event": "EpochEnd", "metrics": 5}\n' + _event_lines(2))
    follower = EventFollower(tmp_path)
    assert [e.metrics.epoch for e in follower.read_new()] == [1, 2]
    assert len(follower.problems) == 2 and all("events.jsonl line" in p and "\n" not in p for p in follower.problems)
    events.write_text(_event_lines(7))  # shorter: a new file (the run directory was reused)
    assert [e.metrics.epoch for e in follower.read_new()] == [7] and follower.restarted


def test_a_follower_catches_up_with_a_long_run_in_pieces(tmp_path, monkeypatch):
    (tmp_path / "events.jsonl").write_text(_event_lines(*range(1, 201)))
    monkeypatch.setattr(EventFollower, "MAX_READ", 4096)
    follower = EventFollower(tmp_path)
    seen, reads = [], 0
    while chunk := follower.read_new():
        seen += [e.metrics.epoch for e in chunk]
        reads += 1
    assert seen == list(range(1, 201)) and reads > 5 and follower.problems == []
