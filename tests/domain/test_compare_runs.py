"""Comparing run directories: the settings that differ, each run's epochs, a run that cannot
be read left out with its reason."""

from __future__ import annotations

from tests.compare_runs import write_compared_runs, write_run
from tui_cnn.domain.compare import compare_runs


def test_differences_marked_and_metrics_per_run(tmp_path):
    adam, sgd, broken = write_compared_runs(tmp_path)
    comparison = compare_runs([adam, sgd, broken, tmp_path / "no-such-run"])

    assert [run.label for run in comparison.runs] == ["adam-run", "sgd-run"]
    rows = {row.name: row for row in comparison.rows}
    assert rows["optimizer"].values == ("adam", "sgd") and rows["optimizer"].differs
    assert rows["learning rate"].values == ("0.001", "0.05") and rows["learning rate"].differs
    assert rows["epochs"].values == ("4", "3") and rows["epochs"].differs
    assert rows["batch size"].values == ("64", "64") and not rows["batch size"].differs
    assert rows["model"].values == ("SimpleCNN", "SimpleCNN")
    assert rows["parameters"].values == ("50,186", "50,186")
    assert rows["best val accuracy"].values == ("95.00% (epoch 4)", "82.00% (epoch 3)")
    assert rows["epochs run"].values == ("4/4", "3/3")
    assert rows["status"].values == ("finished", "stopped")
    assert {"optimizer", "learning rate", "epochs"} <= {row.name for row in comparison.differing}
    assert "seed" not in {row.name for row in comparison.differing}

    assert [m.epoch for m in comparison.runs[0].metrics] == [1, 2, 3, 4]
    assert comparison.runs[1].curve("val_acc") == ([1, 2, 3], [62.0, 76.0, 82.0])

    reasons = {out.path: out.reason for out in comparison.left_out}
    assert "not JSON" in reasons[str(broken)] and "\n" not in reasons[str(broken)]
    assert "not a run directory" in reasons[str(tmp_path / "no-such-run")]


def test_a_bad_metrics_line_is_named_and_the_run_kept(tmp_path):
    run = write_run(tmp_path / "a", [(1.0, 0.5, 1.0, 0.5)])
    with (run / "metrics.jsonl").open("a") as metrics:
        metrics.write("garbage\n")
    other = write_run(tmp_path / "b", [(float("nan"), 0.1, float("inf"), 0.1)], seed=7)
    comparison = compare_runs([run, other, run])  # the same run twice counts once
    assert [r.label for r in comparison.runs] == ["a", "b"]
    assert comparison.runs[0].problems == ["metrics.jsonl line 2: not JSON"]
    assert comparison.runs[1].curve("val_loss") == ([], [])  # a diverged loss is not drawn
    assert comparison.to_json()["runs"][1]["metrics"][0]["val_loss"] is None  # JSON has no infinity
    assert comparison.to_json()["differences"] == [row.name for row in comparison.differing]
    assert "seed" in comparison.to_json()["differences"]


def test_runs_with_the_same_directory_name_are_told_apart_by_path(tmp_path):
    first = write_run(tmp_path / "x" / "run", [(1.0, 0.5, 1.0, 0.5)])
    second = write_run(tmp_path / "y" / "run", [(1.0, 0.5, 1.0, 0.5)])
    assert [r.label for r in compare_runs([first, second]).runs] == [str(first), str(second)]


def test_every_spoiled_run_of_the_hostile_corpus_is_compared_or_left_out_in_one_line(tmp_path):
    from tests.run_corpus import SPOILERS, spoiled_run, write_good_run

    good = write_good_run(tmp_path / "good")
    for name, (opens, _) in SPOILERS.items():
        comparison = compare_runs([good, spoiled_run(tmp_path, name)])
        if comparison.left_out:
            assert not opens, name
            assert "\n" not in comparison.left_out[0].reason, name
        else:
            assert len(comparison.runs) == 2, name
            assert comparison.to_json()["runs"][1]["settings"], name


def test_a_run_directory_name_with_escape_codes_reaches_no_terminal(tmp_path):
    run = write_run(tmp_path / "a\x1b[2Jb\nc", [(1.0, 0.5, 1.0, 0.5)])
    other = write_run(tmp_path / "plain", [(1.0, 0.5, 1.0, 0.5)])
    assert [r.label for r in compare_runs([run, other]).runs] == ["a\\x1b[2Jb\\nc", "plain"]
    reason = compare_runs([tmp_path / "gone\nrun", other]).left_out[0].reason
    assert "\n" not in reason and "gone\\nrun" in reason
