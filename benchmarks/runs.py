"""Issue 12: `tui-cnn runs` over 1,000 run directories (target < 1 s), each as a real run
leaves it: config.json, 10 epochs of metrics, an events.jsonl with a BatchProgress line every
10 batches of MNIST (~940 lines), eval.json with misclassified images (in events.jsonl too)."""

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path

from .harness import Figure, Options, median

RUNS, EPOCHS, BATCH_LINES_PER_EPOCH = 1000, 10, 94


def _write_runs(base: Path, count: int) -> None:
    from tests.run_corpus import epoch_line, write_good_run
    from tui_cnn.backend.evaluate import MAX_MISCLASSIFIED
    from tui_cnn.domain.run_events import BatchProgress, EpochEnd, Evaluated, Finished, RunStarted, event_to_json
    from tui_cnn.domain.run_records import EpochMetrics, Evaluation, Misclassified, to_json

    started = RunStarted("r", "SimpleCNN", {}, "cpu", "a CPU", "mnist", 54000, 6000, 10000, 100000, EPOCHS, 844)
    lines = [json.dumps(event_to_json(started))]
    for epoch in range(1, EPOCHS + 1):
        lines += [
            json.dumps(event_to_json(BatchProgress(epoch, b * 10, 844, b, 0.5, 0.5, 1000.0, 1e-3, 1.0)))
            for b in range(1, BATCH_LINES_PER_EPOCH + 1)
        ]
        metrics = EpochMetrics(**json.loads(epoch_line(epoch)))
        lines.append(json.dumps(event_to_json(EpochEnd(metrics, True))))
    digits = [Misclassified([[128] * 28] * 28, 3, 5) for _ in range(MAX_MISCLASSIFIED)]
    evaluation = Evaluation(0.99, [0.99] * 10, [[100] * 10] * 10, [str(i) for i in range(10)], digits)
    lines.append(json.dumps(event_to_json(Evaluated(evaluation))))
    lines.append(json.dumps(event_to_json(Finished(EPOCHS, 0.99, 100.0))))
    events = "\n".join(lines) + "\n"
    metrics = "".join(epoch_line(e) + "\n" for e in range(1, EPOCHS + 1))
    for index in range(count):
        run = write_good_run(base / f"20260101-{index:06d}-SimpleCNN")
        (run / "events.jsonl").write_text(events)
        (run / "metrics.jsonl").write_text(metrics)
        (run / "eval.json").write_text(json.dumps(to_json(evaluation)))


def run(options: Options) -> list[Figure]:
    from tui_cnn.cli.runs import print_table
    from tui_cnn.domain.run_list import list_runs

    count = 100 if options.quick else RUNS
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "runs"
        _write_runs(base, count)
        samples = []
        for _ in range(2 if options.quick else 5):
            began = time.perf_counter()
            rows = list_runs(base)
            print_table(rows, io.StringIO())
            samples.append(time.perf_counter() - began)
        assert len(rows) == count and all(row.status == "finished" for row in rows)
    return [
        Figure(
            "runs",
            f"list + table of {count} run dirs",
            median(samples),
            "s",
            how=f"list_runs + the table, {count} dirs of {EPOCHS} epochs, ~{EPOCHS * BATCH_LINES_PER_EPOCH} "
            "event lines each",
            target="< 1" if count == RUNS else None,
            samples=samples,
        )
    ]
