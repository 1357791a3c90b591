"""Every place tui-cnn keeps files (domain/paths.py): the XDG folders on Linux, and crash
reports kept, one a crash, the last 10."""

from __future__ import annotations

from tui_cnn.domain import paths
from tui_cnn.domain.datasets import default_data_dir
from tui_cnn.domain.recovery import save_crash_report


def test_the_folders_follow_the_xdg_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_data_dir() == paths.data_dir() == tmp_path / "cache" / "tui-cnn" / "data"
    assert paths.recovery_path() == tmp_path / "state" / "tui-cnn" / "recovery.toml"
    assert paths.crash_reports_dir() == tmp_path / "state" / "tui-cnn" / "crashes"


def test_each_crash_keeps_its_report_and_only_the_last_ten_are_kept():
    written = [save_crash_report(f"Traceback {n}\n") for n in range(12)]
    kept = paths.crash_reports()
    assert kept == written[2:]  # the oldest two deleted, the others in the order they came
    assert [report.read_text() for report in kept] == [f"Traceback {n}\n" for n in range(2, 12)]


def test_a_crash_report_that_cannot_be_written_is_no_error(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "file"))  # the state folder cannot be made
    assert save_crash_report("Traceback\n") is None
