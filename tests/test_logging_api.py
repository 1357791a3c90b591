"""Your own training loop as a run (tui_cnn.init): a plain script, run as a process of its
own, makes a run that `tui-cnn runs`, `compare` and `stop|pause|resume` treat as any run, with
the same files; an exception ends it failed, a kill -9 crashed. The scripts log numbers (no
torch needed), as a loop of any framework would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tui_cnn.domain.run_events import EpochEnd, Failed, Finished, Paused, Resumed, Stopped
from tui_cnn.domain.run_files import read_evaluation, read_events, read_metrics, read_run_config
from tui_cnn.domain.run_list import continuation, run_row
from tui_cnn.domain.run_records import RunFileError

pytestmark = pytest.mark.slow

#: A loop of 3 epochs of 20 batches, with a figure of its own (my_metric).
PLAIN_LOOP = """
    import sys, tui_cnn
    with tui_cnn.init(run_dir=sys.argv[1], config={"lr": 0.1, "hidden": 32}, epochs=3, batches_per_epoch=20) as run:
        for epoch in range(1, 4):
            for batch in range(1, 21):
                run.log_batch(loss=1.0 / (epoch * batch), images=8)
            run.log({"train_loss": 1.0 / epoch, "val_acc": 0.5 + epoch / 10, "my_metric": epoch * 2}, epoch=epoch)
        run.finish(test_accuracy=0.8)
"""

#: A loop that trains until asked to stop (or killed), an epoch every 50 ms; it honours pauses.
ENDLESS_LOOP = """
    import sys, time, tui_cnn
    with tui_cnn.init(run_dir=sys.argv[1], epochs=100_000) as run:
        epoch = 0
        while not run.should_stop() and epoch < 100_000:
            if not run.wait_while_paused(0.02):
                break
            epoch += 1
            time.sleep(0.05)
            run.log({"train_loss": 1.0 / epoch, "val_acc": 0.5}, epoch=epoch)
        print("stopped" if run.should_stop() else "ran out", flush=True)
"""


def write_script(tmp_path: Path, body: str, name: str = "loop.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def run_script(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120, cwd=script.parent
    )


def start_script(script: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=script.parent,
    )


def tui_cnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_cnn", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_import_tui_cnn_loads_no_torch_nor_textual():
    code = (
        "import sys, tui_cnn; tui_cnn.init; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'textual', 'rich', 'click', 'numpy'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_plain_loop_is_a_finished_run_that_runs_and_compare_list(tmp_path):
    script = write_script(tmp_path, PLAIN_LOOP)
    done = run_script(script, "runs/mine")
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "runs" / "mine"

    listed = json.loads(tui_cnn("runs", "--json", cwd=tmp_path).stdout)
    assert [(row["path"], row["status"], row["epoch"], row["epochs"], row["model"]) for row in listed] == [
        ("runs/mine", "finished", 3, 3, "loop")
    ]
    assert listed[0]["best_val_acc"] == pytest.approx(0.8) and listed[0]["test_acc"] == pytest.approx(0.8)

    metrics = read_metrics(run_dir)
    assert [m.epoch for m in metrics] == [1, 2, 3]
    assert [m.extra for m in metrics] == [{"my_metric": 2.0}, {"my_metric": 4.0}, {"my_metric": 6.0}]
    assert metrics[0].val_acc == pytest.approx(0.6) and metrics[0].images_per_s > 0  # 8 images a batch logged
    assert read_evaluation(run_dir).accuracy == pytest.approx(0.8)
    config = read_run_config(run_dir)
    assert config.script == str(script) and config.config == {"lr": 0.1, "hidden": 32, "epochs": 3}
    events = read_events(run_dir)
    assert isinstance(events[-1], Finished) and events[-1].best_epoch == 3
    assert sum(isinstance(event, EpochEnd) for event in events) == 3

    write_script(tmp_path, PLAIN_LOOP.replace('"hidden": 32', '"hidden": 64'))
    assert run_script(script, "runs/other").returncode == 0
    compared = tui_cnn("compare", "runs/mine", "runs/other", "--json", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    report = json.loads(compared.stdout)
    assert "hidden" in report["differences"] and not report["left_out"]
    assert report["runs"][0]["metrics"][0]["extra"] == {"my_metric": 2.0}
    assert report["runs"][0]["metrics"][0]["val_loss"] is None  # not logged: null, not NaN
    assert report["runs"][0]["settings"]["status"] == "finished"


def test_an_automatic_run_dir_is_named_after_the_script(tmp_path):
    script = write_script(
        tmp_path,
        """
        import tui_cnn
        for _ in range(2):
            with tui_cnn.init(epochs=1) as run:
                run.log({"val_acc": 0.5})
                print(run.run_dir)
    """,
        name="my_net.py",
    )
    done = run_script(script)
    assert done.returncode == 0, done.stderr
    first, second = map(Path, done.stdout.split())
    assert first.parent.name == second.parent.name == "runs" and first.name.endswith("-my_net")
    # Two runs in one second: the second gets -2 (the rule is tested with a fixed clock in
    # tests/domain/test_run_lock.py); a second that ticked between them gives a new stamp.
    assert second.name == first.name + "-2" or (second.name.endswith("-my_net") and second.name > first.name)


def test_an_exception_in_the_block_ends_the_run_failed_with_its_message(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys, tui_cnn
        with tui_cnn.init(run_dir=sys.argv[1], epochs=3) as run:
            run.log({"train_loss": 0.5})
            raise ValueError("the batch was empty\\n(second line)")
    """,
    )
    done = run_script(script, "runs/bad")
    assert done.returncode == 1 and "ValueError: the batch was empty" in done.stderr  # re-raised
    row = run_row(tmp_path / "runs" / "bad")
    assert row.status == "failed" and row.epoch == 1
    ended = read_events(tmp_path / "runs" / "bad")[-1]
    assert isinstance(ended, Failed) and ended.reason == "ValueError: the batch was empty (second line)"


def test_a_script_that_dies_without_a_with_block_fails_with_its_exception(tmp_path):
    script = write_script(
        tmp_path,
        """
        import sys, tui_cnn
        run = tui_cnn.init(run_dir=sys.argv[1], epochs=3)
        run.log({"train_loss": 0.5})
        1 / 0
    """,
    )
    assert run_script(script, "runs/bad").returncode == 1
    ended = read_events(tmp_path / "runs" / "bad")[-1]
    assert isinstance(ended, Failed) and ended.reason == "ZeroDivisionError: division by zero"


def test_a_killed_script_is_a_crashed_run(tmp_path):
    script = write_script(tmp_path, ENDLESS_LOOP)
    run_dir = tmp_path / "runs" / "killed"
    child = start_script(script, str(run_dir))
    try:
        # two epochs ended, as the run list reads them (its EpochEnd events, written after the metrics line)
        wait_until(lambda: run_row(run_dir).epoch >= 2, timeout=60, what="two epochs")
        assert run_row(run_dir).status == "running"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.communicate()
    row = run_row(run_dir)
    assert row.status == "crashed" and row.epoch >= 2
    with pytest.raises(RunFileError, match="your own training loop"):  # nothing to continue it from
        continuation(run_dir)


def test_stop_from_the_cli_ends_the_loop_and_the_run_stopped(tmp_path):
    script = write_script(tmp_path, ENDLESS_LOOP)
    run_dir = tmp_path / "runs" / "steered"
    child = start_script(script, str(run_dir))
    try:
        wait_until(lambda: read_metrics(run_dir), timeout=60, what="an epoch")
        paused = tui_cnn("pause", str(run_dir), cwd=tmp_path)
        assert paused.returncode == 0, paused.stderr
        wait_until(lambda: run_row(run_dir).status == "paused", timeout=30, what="the loop to see the pause")
        assert tui_cnn("resume", str(run_dir), cwd=tmp_path).returncode == 0
        wait_until(lambda: run_row(run_dir).status == "running", timeout=30, what="the loop to go on")
        stopped = tui_cnn("stop", str(run_dir), cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert out.strip() == "stopped"  # should_stop() became True
    events = read_events(run_dir)
    assert [type(event) for event in events if isinstance(event, (Paused, Resumed))] == [Paused, Resumed]
    assert isinstance(events[-1], Stopped) and run_row(run_dir).status == "stopped"
    assert json.loads((run_dir / "process.json").read_text())["control_seq"] == 3  # pause, resume, stop applied


def test_a_second_init_on_a_live_run_dir_is_refused_naming_its_process(tmp_path):
    script = write_script(tmp_path, ENDLESS_LOOP)
    run_dir = tmp_path / "runs" / "taken"
    child = start_script(script, str(run_dir))
    try:
        wait_until(lambda: read_metrics(run_dir), timeout=60, what="an epoch")
        second = write_script(
            tmp_path,
            """
            import sys, tui_cnn
            try:
                tui_cnn.init(run_dir=sys.argv[1])
            except tui_cnn.RunRefused as exc:
                print(exc)
        """,
            name="second.py",
        )
        refused = run_script(second, str(run_dir))
        assert refused.stdout.strip().splitlines() == [
            f"{run_dir} is being trained by process {child.pid}: one trainer per run directory (stop it with "
            f"tui-cnn stop {run_dir}, or wait for it to end)"
        ]
        assert tui_cnn("stop", str(run_dir), cwd=tmp_path).returncode == 0
        child.communicate(timeout=60)
    finally:
        child.kill()
    again = run_script(second, str(run_dir))  # ended: its folder holds a run, which stays as it is
    assert "already holds a run" in again.stdout and run_row(run_dir).status == "stopped"


def test_a_figure_that_is_not_a_number_is_refused_in_one_line(tmp_path):
    import tui_cnn
    from tui_cnn.logging_api import UsageError

    with tui_cnn.init(run_dir=tmp_path / "run", epochs=1) as run:
        with pytest.raises(UsageError, match=r"^train_loss must be a number, not str \('low'\)$"):
            run.log({"train_loss": "low"})
        run.log({"train_loss": 0.25})
    assert read_metrics(tmp_path / "run")[0].train_loss == 0.25
    assert isinstance(read_events(tmp_path / "run")[-1], Finished)


def test_figures_may_be_numpy_scalars_and_a_confusion_matrix_gives_per_class_accuracy(tmp_path):
    import numpy as np

    import tui_cnn

    with tui_cnn.init(run_dir=tmp_path / "run", epochs=1) as run:
        run.log({"train_loss": np.float32(0.5), "val_acc": np.float64(0.75), "steps": np.int64(7)})
        run.finish(confusion_matrix=[[3, 1], [0, 4]], classes=["cat", "dog"])
    assert read_metrics(tmp_path / "run")[0].extra == {"steps": 7.0}
    evaluation = read_evaluation(tmp_path / "run")
    assert (evaluation.accuracy, evaluation.per_class_accuracy, evaluation.classes) == (
        0.875,
        [0.75, 1.0],
        ["cat", "dog"],
    )


def test_ctrl_c_in_the_block_ends_the_run_stopped(tmp_path):
    import tui_cnn

    with pytest.raises(KeyboardInterrupt):
        with tui_cnn.init(run_dir=tmp_path / "run", epochs=3) as run:
            run.log({"train_loss": 0.5})
            raise KeyboardInterrupt
    ended = read_events(tmp_path / "run")[-1]
    assert isinstance(ended, Stopped) and ended.epoch == 2 and run_row(tmp_path / "run").status == "stopped"
