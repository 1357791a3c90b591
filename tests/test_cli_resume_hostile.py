"""`tui-cnn train --resume` of a spoiled run directory: one line, exit 2, nothing from torch
(never its advice to load a checkpoint with weights_only=False)."""

from __future__ import annotations

import pickle

import pytest
from click.testing import CliRunner

from tests.run_corpus import spoiled_run, write_good_run
from tui_cnn.cli import main


def resume(run_dir) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--headless", "--epochs", "5"])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "name", ["config-epochs-a-string", "config-not-json", "config-spec-wrong-type", "config-lr-nan"]
)
def test_resume_of_a_spoiled_config_is_one_line_exit_2(tmp_path, name):
    code, output = resume(spoiled_run(tmp_path, name))
    assert code == 2 and output.count("\n") == 1 and "Traceback" not in output, output


class Payload:  # what a hostile checkpoint would carry: weights_only=True refuses it
    def __reduce__(self):
        return (print, ("ran code from a checkpoint",))


@pytest.mark.parametrize(
    "content", [b"", b"garbage" * 10, b"PK\x03\x04 cut short", pickle.dumps(Payload()), pickle.dumps({"model": 5})]
)
def test_resume_of_a_garbage_checkpoint_is_one_line_exit_2(tmp_path, content):
    run_dir = write_good_run(tmp_path / "run")
    (run_dir / "checkpoint-last.pt").write_bytes(content)
    code, output = resume(run_dir)
    assert code == 2 and output.count("\n") == 1, output
    assert "not a readable checkpoint" in output or "holds no model weights" in output
    assert "weights_only" not in output and "ran code" not in output


def test_resume_without_a_checkpoint_says_so(tmp_path):
    code, output = resume(write_good_run(tmp_path / "run"))
    assert code == 2 and "nothing to resume" in output
