"""The training settings, declared once: the same text gives the same value or the same
message on the command line and in the form, and nothing typed becomes another number."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from click.testing import CliRunner

from tui_cnn.cli import main
from tui_cnn.domain.settings import SettingError, parse_setting
from tui_cnn.domain.train_config import SETTINGS, TrainConfig


def parse(name: str, text: str):
    return parse_setting(name, SETTINGS[name], text)


def test_every_training_setting_is_declared_and_its_default_passes_its_own_check():
    assert set(SETTINGS) == {f.name for f in fields(TrainConfig)}
    assert TrainConfig().validate() == []


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("batch_size", "64", 64),
        ("batch_size", " 1_024 ", 1024),
        ("epochs", "1e3", 1000),
        ("lr", "3e-3", 0.003),
        ("seed", "9223372036854775807", 2**63 - 1),
        ("augment", "yes", True),
        ("data_dir", "", None),
        ("weight_decay", "0", 0.0),
    ],
)
def test_what_is_typed_is_read_as_typed(name, text, value):
    assert parse(name, text) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        # The form once read these as 19, 1, 25, 1000000 (cut to 7 digits) and 13.
        ("batch_size", "1e9", "batch size must be >= 1 and <= 1,048,576, got 1,000,000,000"),
        ("batch_size", "-1", "batch size must be >= 1"),
        ("batch_size", "2.5", "batch size must be a whole number, got '2.5'"),
        ("batch_size", "100000000000", "got 100,000,000,000"),
        ("epochs", "1e300", "epochs must be >= 1 and <= 100,000"),
        ("weight_decay", "nan", "weight decay must be a finite number, got nan"),
        ("lr", "1e308", "learning rate must be > 0 and <= 1e+12, got 1e+308"),
        ("lr", "0", "learning rate must be > 0"),
        ("seed", str(10**30), "seed must be >= 0 and <= 9,223,372,036,854,775,807"),
        ("epochs", "inf", "epochs must be a whole number, got 'inf'"),
        ("optimizer", "adagrad", "optimizer must be one of sgd, adam, adamw, got 'adagrad'"),
        ("epochs", "", "epochs is required"),
    ],
)
def test_a_value_a_setting_does_not_take_is_refused_with_what_it_takes(name, text, message):
    with pytest.raises(SettingError, match=None) as refused:
        parse(name, text)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "options",
    [
        ["--weight-decay", "nan"],
        ["--seed", str(10**30)],
        ["--optimizer", "sgd", "--lr", "1e308"],
        ["-b", "1e9"],
        ["--epochs", "2.5"],
        ["--val-fraction", "1"],
        ["--label-smoothing", "-inf"],
    ],
)
def test_the_command_line_refuses_the_same_values_with_exit_2_and_one_line(options):
    result = CliRunner().invoke(main, ["train", "SimpleCNN", "--headless", *options])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    problem = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(problem) == 1 and "must be" in problem[0]


def test_a_config_json_with_wrong_types_is_described_not_crashed_on():
    config = TrainConfig.from_json({"epochs": "three", "batch_size": True, "lr": math.nan, "dataset": 7})
    problems = config.validate()
    assert "epochs must be a whole number, got 'three'" in problems
    assert "batch size must be a whole number, got True" in problems
    assert any("learning rate must be a finite number" in p for p in problems)
    assert any("dataset must be text" in p for p in problems)


def test_the_help_lists_every_command_line_setting_with_its_default():
    result = CliRunner().invoke(main, ["train", "--help"])
    for name, declared in SETTINGS.items():
        if declared.cli:
            option = declared.flag or f"--{name.replace('_', '-')}"
            assert option in result.output, option
    assert "(default: 64)" in result.output
