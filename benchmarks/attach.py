"""Issue 12: what the attached monitor costs an SSH connection. A run trains detached
(SimpleCNN on mnist-sample, CPU); ``tui-cnn attach RUN_DIR`` runs in a real pseudo-terminal
of 80x24, then 160x50, and every byte the app writes to the terminal is counted over a
window after its first paint. Bytes per second is what the connection carries while you
watch a run train (the curves tab, as it opens).

The app gets a state folder of its own ($XDG_STATE_HOME): a crash recovery file another
program left in the user's would open the "restore the model?" dialog over the monitor, and
the figure would be that dialog's (every redraw under a dialog repainted the whole screen:
~40 KiB/s at 160x50, before the monitor stopped redrawing while covered)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

from .harness import Figure, Options, median, start_in_a_terminal

SIZES = ((80, 24), (160, 50))
TARGETS = {(160, 50): f"<= {8 * 1024}"}  # bytes/s: a monitor that stays live over a slow SSH link (issue 25)
FIRST_PAINT_S = 4.0  # the app starts, reads the run's past and paints it all once: not counted


def _count_bytes(master: int, counted: list[int]) -> None:
    try:
        while True:
            data = os.read(master, 65536)
            if not data:
                return
            counted[0] += len(data)
    except OSError:
        return


def _attached_bytes_per_s(run_dir: Path, size: tuple[int, int], window_s: float, state_dir: Path) -> float:
    pid, master = start_in_a_terminal(["attach", str(run_dir)], *size, environment={"XDG_STATE_HOME": str(state_dir)})
    counted = [0]
    reader = threading.Thread(target=_count_bytes, args=(master, counted), daemon=True)
    reader.start()
    try:
        time.sleep(FIRST_PAINT_S)
        before, start = counted[0], time.monotonic()
        time.sleep(window_s)
        return (counted[0] - before) / (time.monotonic() - start)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)


def run(options: Options) -> list[Figure]:
    from tui_cnn.backend.launch import start_detached
    from tui_cnn.domain.presets import load_preset
    from tui_cnn.domain.run_control import write_control
    from tui_cnn.domain.run_events import BatchProgress
    from tui_cnn.domain.run_files import read_events
    from tui_cnn.domain.train_config import TrainConfig

    window_s, rounds = (3.0, 1) if options.quick else (30.0, 3)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        config = TrainConfig(dataset="mnist-sample", epochs=10_000, batch_size=64, device="cpu", run_dir=str(run_dir))
        launched = start_detached(load_preset("SimpleCNN"), config)
        try:
            deadline = time.monotonic() + 120
            while not any(isinstance(e, BatchProgress) for e in read_events(run_dir)):
                if time.monotonic() > deadline or launched.exit_status is not None:
                    raise RuntimeError(f"the run did not start training: see {run_dir}/output.log")
                time.sleep(0.2)
            for size in SIZES:
                samples = [_attached_bytes_per_s(run_dir, size, window_s, Path(tmp)) for _ in range(rounds)]
                figures.append(
                    Figure(
                        "attach",
                        f"bytes/s to the terminal, attached monitor at {size[0]}x{size[1]}",
                        median(samples),
                        "bytes/s",
                        how=f"tui-cnn attach in a pty while SimpleCNN trains (CPU); {rounds} x {window_s:.0f} s "
                        f"after the first paint",
                        target=TARGETS.get(size),
                        samples=samples,
                    )
                )
        finally:
            write_control(run_dir, "stop")
            deadline = time.monotonic() + 30
            while launched.exit_status is None and time.monotonic() < deadline:
                time.sleep(0.2)
            if launched.exit_status is None:
                os.killpg(launched.process.pid, signal.SIGKILL)
    return figures
