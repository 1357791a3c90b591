"""A run without an evaluation says why and what to do: a stopped run was never scored (it
once said the evaluation "appears when a run finishes", as if it were still coming)."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tests.run_corpus import write_good_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.widgets.monitor.evaluation import EvaluationPanel


@pytest.mark.slow
async def test_a_stopped_runs_evaluation_tab_says_it_was_stopped_and_how_to_score_it(tmp_path):
    run_dir = write_good_run(tmp_path / "stopped-run")
    (run_dir / "eval.json").unlink()
    (run_dir / "events.jsonl").write_text('{"event": "Stopped", "epoch": 2, "checkpoint": null, "at": 1000.0}\n')
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.load_run(str(run_dir))
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.state.status == "stopped"
        panel = app.screen.query_one(EvaluationPanel)
        summary = str(panel.query_one("#eval-summary", Static).render())
        assert "stopped" in summary and "continue it" in summary and "appears when" not in summary
        assert not panel.query_one("#confusion").display
