"""The range test's reading of a curve: learning rates grow exponentially, the smoothed loss
stops the test when it diverges, and the suggestion is the steepest descent before the minimum."""

from __future__ import annotations

import math

import pytest

from tui_cnn.domain.lr_range import LossSmoother, learning_rates, read_curve


def test_learning_rates_grow_exponentially_from_start_to_end():
    rates = learning_rates(1e-6, 1.0, 7)
    assert rates[0] == pytest.approx(1e-6) and rates[-1] == pytest.approx(1.0)
    assert all(b / a == pytest.approx(10) for a, b in zip(rates, rates[1:]))


def test_the_smoothed_loss_is_not_dragged_to_zero_and_divergence_stops_the_test():
    smoother = LossSmoother()
    assert smoother.add(2.0) == pytest.approx(2.0)  # bias-corrected: the first value is itself
    for _ in range(20):
        smoother.add(1.0)
    assert not smoother.diverged(smoother.add(1.0))
    assert smoother.diverged(smoother.add(1e6))
    assert smoother.diverged(float("nan"))


def test_the_suggestion_is_the_steepest_descent_before_the_minimum():
    rates = learning_rates(1e-6, 1.0, 61)
    # a plateau, a descent steepest at 1e-3, a minimum at ~1e-2, then divergence
    losses = [2.3 - 1.0 * (1 + math.tanh(3 * (math.log10(lr) + 3))) + (50 * lr if lr > 1e-2 else 0) for lr in rates]
    result = read_curve(rates, losses)
    assert result.suggestion == pytest.approx(1e-3, rel=0.3)
    assert 5e-3 <= result.minimum <= 1e-1


def test_a_curve_with_no_descent_suggests_nothing():
    rates = learning_rates(1e-6, 1.0, 40)
    assert read_curve(rates, [1.0 + lr for lr in rates]).suggestion is None
    assert read_curve(rates[:5], [1.0] * 5).suggestion is None
