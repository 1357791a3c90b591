"""Sweeps through Optuna: `tui-cnn sweep` searches training settings, each trial an ordinary
run of the box's queue, the study in the sweep's own SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tui_cnn.domain.sweep import Param, SweepError, parse_param, parse_params


def tui_cnn(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_cnn", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def test_a_param_is_a_range_or_a_list_parsed_by_the_settings_own_parsers():
    assert parse_param("lr=1e-4:1e-1:log") == Param("lr", low=1e-4, high=1e-1, log=True)
    assert parse_param("epochs=1:5") == Param("epochs", low=1, high=5)
    assert parse_param("batch-size=32,64,128") == Param("batch_size", choices=[32, 64, 128])
    assert parse_param("optimizer=adam,sgd") == Param("optimizer", choices=["adam", "sgd"])
    assert parse_param("augment=yes,no") == Param("augment", choices=[True, False])


@pytest.mark.parametrize(
    "text, said",
    [
        ("lr", "write NAME=LOW:HIGH[:log]"),
        ("colour=1,2", "'colour' is not a setting a sweep can search"),
        ("run_dir=a,b", "'run_dir' is not a setting a sweep can search"),
        ("lr=0.1:0.01", "the low end must be below the high end"),
        ("lr=0:1", "learning rate must be > 0"),
        ("weight_decay=0:1:log", "a log range needs a low end above 0"),
        ("lr=1:2:cubic", "a range is LOW:HIGH or LOW:HIGH:log"),
        ("batch_size=32,abc", "batch size must be a whole number, got 'abc'"),
        ("optimizer=adam:sgd", "is not a number: list its values"),
        ("optimizer=adam,rmsprop", "optimizer must be one of sgd, adam, adamw"),
        ("batch_size=32,32", "a value is given twice"),
    ],
)
def test_a_bad_param_is_refused_in_one_line(text, said):
    with pytest.raises(SweepError) as refused:
        parse_param(text)
    assert said in str(refused.value) and "\n" not in str(refused.value)


def test_a_param_given_twice_or_none_is_refused():
    with pytest.raises(SweepError, match="lr is given twice"):
        parse_params(["lr=0.1,0.2", "lr=1e-3:1e-1"])
    with pytest.raises(SweepError, match="at least one --param"):
        parse_params([])


@pytest.mark.slow
def test_a_bad_sweep_is_refused_before_anything_starts(tmp_path):
    done = tui_cnn(
        "sweep",
        "SimpleCNN",
        "--trials",
        "3",
        "--param",
        "lr=1e-4:1e-1:log",
        "--param",
        "batch_size=30,64",
        "--nproc-per-node",
        "4",
        "--dataset",
        "mnist-sample",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "tui-cnn: the batch size (30) is the global batch and must "
        "divide evenly among the 4 processes of --nproc-per-node"
    )
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_three_trial_sweep_leaves_a_study_whose_best_is_the_best_run(mnist_root, tmp_path):
    import optuna

    done = tui_cnn(
        "sweep",
        "SimpleCNN",
        "--trials",
        "3",
        "--param",
        "lr=1e-4:3e-2:log",
        "--param",
        "batch_size=32,64",
        "--dataset",
        "mnist",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--seed",
        "3",
        "--wait",
        "--json",
        cwd=tmp_path,
        timeout=380,
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    sweep_dir = tmp_path / said["sweep_dir"]
    study = optuna.load_study(study_name=said["study"], storage=f"sqlite:///{sweep_dir / 'study.db'}")
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert [trial["state"] for trial in said["trials"]] == ["complete"] * 3
    runs = json.loads(tui_cnn("runs", "--json", cwd=tmp_path).stdout)  # ordinary runs, in the runs list
    trials = {str(tmp_path / row["path"]): row for row in runs if Path(row["path"]).name.startswith(sweep_dir.name)}
    assert len(trials) == 3 and all(row["status"] == "finished" for row in trials.values())
    assert study.best_value == max(row["best_val_acc"] for row in trials.values())
    assert said["best"]["value"] == study.best_value
    assert str(tmp_path / said["best"]["run_dir"]) in trials
    for trial in said["trials"]:  # each run trained with its trial's values
        config = json.loads((tmp_path / trial["run_dir"] / "config.json").read_text())["config"]
        assert config["lr"] == trial["params"]["lr"] and config["batch_size"] == trial["params"]["batch_size"]
    compared = tui_cnn("compare", str(sweep_dir), "--json", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert len(json.loads(compared.stdout)["runs"]) == 3
    shown = tui_cnn("sweep", "show", str(sweep_dir), cwd=tmp_path)
    assert f"best: trial {said['best']['number']}" in shown.stdout and "batch_size" in shown.stdout


@pytest.mark.slow
@pytest.mark.heavy  # a second whole sweep; pruned runs' notices are checked in the default run
@pytest.mark.timeout(400)
def test_a_trial_behind_the_median_is_pruned_and_its_run_says_so(mnist_root, tmp_path):
    import optuna

    # Seeded random sampling: trial 0 learns (lr 0.01), trial 1 hardly moves (lr 1e-7); the
    # MedianPruner stops trial 1 after its first epoch, below trial 0's.
    done = tui_cnn(
        "sweep",
        "SimpleCNN",
        "--trials",
        "2",
        "--param",
        "lr=0.01,1e-7",
        "--sampler",
        "random",
        "--seed",
        "10",
        "--prune",
        "--dataset",
        "mnist",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "4",
        "--device",
        "cpu",
        "-b",
        "32",
        "--wait",
        "--json",
        cwd=tmp_path,
        timeout=380,
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert [trial["params"]["lr"] for trial in said["trials"]] == [0.01, 1e-7]  # the seed's draw
    study = optuna.load_study(
        study_name=said["study"], storage=f"sqlite:///{tmp_path / said['sweep_dir'] / 'study.db'}"
    )
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    assert said["trials"][1]["state"] == "pruned" and said["trials"][1]["status"] == "pruned"
    pruned = Path(said["trials"][1]["run_dir"]).name
    listed = tui_cnn("runs", cwd=tmp_path).stdout
    assert any(line.startswith("pruned") and pruned in line for line in listed.splitlines()), listed


@pytest.mark.slow
def test_without_optuna_the_sweep_says_how_to_get_it_in_one_line(tmp_path):
    # An install without the [sweep] extra: importing optuna fails.
    blocked = (
        "import sys; sys.modules['optuna'] = None; from tui_cnn.cli import main; "
        "main(['sweep', 'SimpleCNN', '--trials', '2', '--param', 'lr=0.1,0.01', '--dataset', 'mnist-sample'])"
    )
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "tui-cnn: sweeps need Optuna: pip install 'optuna>=4' (or pip install 'tui-cnn[sweep]')"
    )
    assert not (tmp_path / "runs").exists()


def test_a_pruned_trials_notice_and_notify_command_say_pruned(tmp_path):
    from tui_cnn.domain.notify import end_notice, notify_environment
    from tui_cnn.domain.run_state import RunState
    from tui_cnn.domain.sweep import mark_pruned

    state = RunState(status="stopped", model="SimpleCNN", run_dir=str(tmp_path))
    assert end_notice(state)[0] == "tui-cnn: SimpleCNN stopped"
    mark_pruned(tmp_path, 1, 0.3)  # the driver marks it before it stops it
    assert end_notice(state)[0] == "tui-cnn: SimpleCNN pruned"
    assert notify_environment(state, base={})["TUI_CNN_STATUS"] == "pruned"


@pytest.mark.slow
@pytest.mark.heavy  # a sweep killed and run again: the queue's own restart is in the default run
@pytest.mark.timeout(400)
def test_a_sweep_whose_driver_died_goes_on_when_the_queue_is_run_again(mnist_root, tmp_path):
    import os
    import signal

    from tests.helpers import wait_until
    from tui_cnn.domain.sweep import DONE_FILE, DRIVER_LOCK

    started = tui_cnn(
        "sweep",
        "SimpleCNN",
        "--trials",
        "2",
        "--param",
        "lr=1e-3,3e-3",
        "--dataset",
        "mnist",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "2",
        "--device",
        "cpu",
        "-b",
        "32",
        "--json",
        cwd=tmp_path,
    )
    assert started.returncode == 0, started.stderr
    sweep_dir = tmp_path / json.loads(started.stdout)["sweep_dir"]
    first = Path(f"{sweep_dir}-t0")
    wait_until(lambda: (first / "config.json").exists(), timeout=120)
    driver = int((sweep_dir / DRIVER_LOCK).read_text())
    os.kill(driver, signal.SIGKILL)  # as a reboot would, while its first trial trains
    wait_until(lambda: not tui_cnn_shows(sweep_dir, tmp_path)["driver_running"], timeout=30)
    again = tui_cnn("queue", "run", cwd=tmp_path)
    assert "1 sweep(s) with trials to go: their driver(s) started again" in again.stdout
    wait_until(lambda: (sweep_dir / DONE_FILE).exists(), timeout=330)
    shown = tui_cnn_shows(sweep_dir, tmp_path)
    assert [trial["state"] for trial in shown["trials"]] == ["complete", "complete"]  # the first one followed on
    assert shown["best"]["value"] == max(trial["best_val_acc"] for trial in shown["trials"])
    assert "sweep(s)" not in tui_cnn("queue", "run", cwd=tmp_path).stdout  # done: no driver to bring back


def tui_cnn_shows(sweep_dir: Path, cwd: Path) -> dict:
    return json.loads(tui_cnn("sweep", "show", str(sweep_dir), "--json", cwd=cwd).stdout)


@pytest.mark.slow
@pytest.mark.heavy  # a third whole sweep; stopping a run (a trial is one) is proved in the default run
@pytest.mark.timeout(400)
def test_sweep_stop_stops_the_running_trial_and_asks_for_no_more(mnist_root, tmp_path):
    from tests.helpers import wait_until
    from tui_cnn.domain.run_events import RunStarted
    from tui_cnn.domain.run_files import read_events
    from tui_cnn.domain.sweep import DONE_FILE

    started = tui_cnn(
        "sweep",
        "SimpleCNN",
        "--trials",
        "3",
        "--param",
        "lr=1e-3,3e-3",
        "--dataset",
        "mnist",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "50",
        "--device",
        "cpu",
        "-b",
        "32",
        "--json",
        cwd=tmp_path,
    )
    assert started.returncode == 0, started.stderr
    sweep_dir = tmp_path / json.loads(started.stdout)["sweep_dir"]
    first = Path(f"{sweep_dir}-t0")
    wait_until(lambda: any(isinstance(event, RunStarted) for event in read_events(first)), timeout=120)
    stopped = tui_cnn("sweep", "stop", str(sweep_dir), cwd=tmp_path)
    assert stopped.returncode == 0 and "no more trials" in stopped.stdout
    wait_until(lambda: (sweep_dir / DONE_FILE).exists(), timeout=120)
    # the running trial ends stopped; a trial the driver had queued just before the stop (a race a
    # loaded machine wins) is cancelled and never trains: no more trials are asked for
    wait_until(lambda: tui_cnn_shows(sweep_dir, tmp_path)["trials"][0]["status"] == "stopped", timeout=60)
    shown = tui_cnn_shows(sweep_dir, tmp_path)
    states = [(trial["state"], trial["status"]) for trial in shown["trials"]]
    assert states[0] == ("fail", "stopped") and all(state == ("fail", "cancelled") for state in states[1:])
    assert shown["best"] is None and not Path(f"{sweep_dir}-t2").exists()
    assert all(not (Path(f"{sweep_dir}-t{n}") / "events.jsonl").exists() for n in range(1, len(states)))
