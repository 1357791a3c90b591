"""Training on several processes (DDP under torchrun), proved on the CPU with gloo: two ranks
train as one process does with the same global batch, rank 0 alone writes the run, and stop,
pause and resume reach every rank. The launches go through ``TrainingProcess``, as the app's
and ``tui-cnn train --nproc-per-node 2 --headless``'s do.

Tolerance: the loss and validation figures of a 2-rank run match the 1-rank run's to a
relative 1e-4. With the same global batch and permutation, DDP's averaged gradient is the
one-process gradient summed in another order (two half-batch means, then their mean), so the
runs differ by float32 rounding alone (~1e-7 a step), which 8 Adam steps leave far below
1e-4 (measured: 3e-5 relative after 62 steps on mnist-sample). SimpleCNN has no BatchNorm or
Dropout, which would make the ranks' figures differ for real.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest
import torch

from tui_cnn.backend.build import build_model
from tui_cnn.backend.data import load_data
from tui_cnn.backend.distributed import lost_a_rank, shard_bounds
from tui_cnn.backend.runs import load_checkpoint
from tui_cnn.backend.train_process import TrainingProcess, launch_command, launch_environment, too_many_processes
from tui_cnn.backend.trainer import Trainer
from tui_cnn.domain.run_dir import LAST_CHECKPOINT
from tui_cnn.domain.run_events import EpochEnd, Finished, Paused, Resumed, RunStarted, Stopped
from tui_cnn.domain.run_files import read_events, read_metrics

RELATIVE_TOLERANCE = 1e-4


def of_type(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


def train_on_two(spec, config, on_event=lambda process, event: None, pause_first: bool = False) -> list:
    """A 2-rank run through torchrun; ``on_event(process, event)`` may steer it."""
    events: list = []

    def listener(event) -> None:
        events.append(event)
        on_event(process, event)

    process = TrainingProcess(spec, replace(config, nproc_per_node=2), listener)
    if pause_first:
        process.pause()  # sent right after the request: the ranks pause before their first batch
    process.run()
    return events


@pytest.mark.slow
def test_two_ranks_train_as_one_process_with_the_same_global_batch(simple_cnn, tiny_config, tmp_path):
    tiny_config = replace(tiny_config, device="cpu")  # gloo: "auto" on a 1-GPU box is CUDA, one rank at most
    one = []
    Trainer(simple_cnn, replace(tiny_config, run_dir=str(tmp_path / "one")), [one.append]).run()

    def resume_when_paused(process, event) -> None:
        if isinstance(event, Paused):
            process.resume()

    two = train_on_two(
        simple_cnn, replace(tiny_config, run_dir=str(tmp_path / "two")), resume_when_paused, pause_first=True
    )

    assert isinstance(two[-1], Finished), two[-1]
    assert of_type(two, RunStarted)[0].processes == 2 and len(of_type(two, RunStarted)) == 1  # rank 0 alone talks
    assert len(of_type(two, Paused)) == len(of_type(two, Resumed)) == 1
    expected, got = of_type(one, EpochEnd)[0].metrics, of_type(two, EpochEnd)[0].metrics
    assert got.train_loss == pytest.approx(expected.train_loss, rel=RELATIVE_TOLERANCE)
    assert got.val_loss == pytest.approx(expected.val_loss, rel=RELATIVE_TOLERANCE)
    assert (got.train_acc, got.val_acc) == (expected.train_acc, expected.val_acc)
    run_dir = tmp_path / "two"
    assert read_metrics(run_dir) == [got]  # one line an epoch: rank 0 alone writes
    assert read_events(run_dir) == two
    model = build_model(simple_cnn)  # the unwrapped module's weights: no DDP "module." prefix
    model.load_state_dict(load_checkpoint(run_dir / LAST_CHECKPOINT)["model"])


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs (NCCL)")
def test_two_gpus_train_as_one_gpu_with_the_same_global_batch(simple_cnn, tiny_config, tmp_path):
    config = replace(tiny_config, device="cuda", amp=False)  # float32: bf16 rounding would hide a real gap
    one = []
    Trainer(simple_cnn, replace(config, run_dir=str(tmp_path / "one")), [one.append]).run()
    two = train_on_two(simple_cnn, replace(config, run_dir=str(tmp_path / "two")))

    assert isinstance(two[-1], Finished), two[-1]
    expected, got = of_type(one, EpochEnd)[0].metrics, of_type(two, EpochEnd)[0].metrics
    assert got.train_loss == pytest.approx(expected.train_loss, rel=RELATIVE_TOLERANCE)
    assert got.val_loss == pytest.approx(expected.val_loss, rel=RELATIVE_TOLERANCE)


@pytest.mark.slow
@pytest.mark.heavy  # two torchrun launches; two ranks training as one is in the default run
def test_a_stop_reaches_every_rank_and_the_run_resumes_under_torchrun(simple_cnn, tiny_config, tmp_path):
    config = replace(tiny_config, epochs=2, device="cpu")  # gloo, as above

    def stop_when_paused(process, event) -> None:
        if isinstance(event, Paused):
            process.stop()

    stopped = train_on_two(simple_cnn, config, stop_when_paused, pause_first=True)
    assert isinstance(stopped[-1], Stopped) and stopped[-1].epoch == 1, stopped[-1]  # no rank left waiting
    assert (tmp_path / "run" / LAST_CHECKPOINT).is_file()

    # Resumed the way a run across machines starts: torchrun around `tui-cnn train` (README).
    resumed = subprocess.run(
        [*launch_command(2, "tui_cnn"), "train", "--resume", config.run_dir, "--headless"],
        capture_output=True,
        text=True,
        timeout=120,
        env=launch_environment(2),
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "x 2 processes (DDP)" in resumed.stdout
    assert "finished in" in resumed.stdout and resumed.stdout.count("run directory:") == 1  # rank 0 alone prints
    assert [m.epoch for m in read_metrics(tmp_path / "run")] == [1, 2]


def test_the_ranks_slices_of_each_batch_make_the_one_process_batch(mnist_root):
    data = load_data("mnist", str(mnist_root), "cpu")
    for augment in (False, True):

        def batches(rank, ranks):
            generator = torch.Generator().manual_seed(7)
            return list(data.train_batches(32, generator, augment, skip=1, shard=(rank, ranks)))

        whole = batches(0, 1)
        halves = zip(batches(0, 2), batches(1, 2))
        for (images, labels), ((first, first_labels), (second, second_labels)) in zip(whole, halves):
            assert torch.equal(images, torch.cat([first, second]))
            assert torch.equal(labels, torch.cat([first_labels, second_labels]))


@pytest.mark.parametrize("total, ranks", [(64, 2), (65, 2), (10, 3), (1, 4)])
def test_shards_cover_a_split_once(total, ranks):
    bounds = [shard_bounds(total, rank, ranks) for rank in range(ranks)]
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    assert all(end == next_start for (_, end), (next_start, _) in zip(bounds, bounds[1:]))
    assert max(e - s for s, e in bounds) - min(e - s for s, e in bounds) <= 1


def test_ranks_share_the_cores_unless_told_otherwise(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert launch_environment(2, {})["OMP_NUM_THREADS"] == "1"
    assert launch_environment(1, {})["OMP_NUM_THREADS"] == "2"
    assert launch_environment(2, {"OMP_NUM_THREADS": "4"})["OMP_NUM_THREADS"] == "4"


def test_more_processes_than_gpus_or_cores_are_refused_before_any_starts(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("tui_cnn.backend.devices.gpu_count", lambda: 0)
    assert too_many_processes(2, "cpu") is None and too_many_processes(2, "auto") is None
    assert "CPU cores (2)" in too_many_processes(3, "auto")
    assert too_many_processes(3, "cuda") is None  # no GPU: the engine itself says CUDA is missing
    monkeypatch.setattr("tui_cnn.backend.devices.gpu_count", lambda: 4)
    assert too_many_processes(4, "cuda") is None and too_many_processes(3, "cpu") is not None
    assert "GPUs (4)" in too_many_processes(5, "auto")


def test_the_global_batch_must_divide_among_the_processes(tiny_config):
    problems = replace(tiny_config, batch_size=33, nproc_per_node=2).validate()
    assert any("global batch" in problem for problem in problems)


def test_a_rank_that_went_away_is_told_from_other_errors():
    gloo = RuntimeError("[third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error: Connection reset by peer")
    assert lost_a_rank(gloo) and lost_a_rank(torch.distributed.DistBackendError("NCCL watchdog timeout"))
    assert not lost_a_rank(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) and not lost_a_rank(ValueError())


def test_the_monitor_polls_the_gpus_the_ranks_train_on():
    from tui_cnn.backend.devices import training_gpus

    assert training_gpus(2, {}) == [0, 1]
    assert training_gpus(2, {"CUDA_VISIBLE_DEVICES": "2,3,5"}) == [2, 3]  # NVML numbers every GPU of the machine
    assert training_gpus(2, {"CUDA_VISIBLE_DEVICES": "GPU-5f1c,GPU-77aa"}) == [0, 1]  # UUIDs: not mapped
