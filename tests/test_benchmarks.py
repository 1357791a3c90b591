"""The benchmark command runs and records what it measured (timings themselves are never
asserted: these machines are noisy)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.__main__ import main
from benchmarks.harness import Figure, alternate, percentile, show


@pytest.mark.slow  # the gpu benchmark trains
def test_quick_run_of_one_benchmark_writes_its_figures_and_the_machine(tmp_path):
    output = tmp_path / "results.json"

    assert main(["--only", "shapes", "gpu", "--quick", "--device", "cpu", "--output", str(output)]) == 0

    results = json.loads(output.read_text())
    names = [figure["name"] for figure in results["figures"]]
    assert names == [
        "analyze, 10 layers",
        "analyze, 100 layers",
        "analyze, 1,000 layers",
        "growth, per-layer cost 100 -> 1,000 layers",
    ]
    assert all(figure["value"] > 0 for figure in results["figures"])
    assert results["figures"][1]["target"] == "< 0.002"
    assert "no CUDA device" in results["skipped"]["gpu"]
    assert results["machine"]["device"] == "cpu" and results["machine"]["torch"]
    assert results["figures"][0]["command"] == (
        "python -m benchmarks --only shapes gpu --quick --device cpu --output " + str(output)
    )


@pytest.mark.slow  # the gpu benchmark trains
def test_a_run_of_one_benchmark_keeps_the_others_figures(tmp_path):
    output = tmp_path / "results.json"
    main(["--only", "shapes", "--quick", "--device", "cpu", "--output", str(output)])

    main(["--only", "gpu", "--quick", "--device", "cpu", "--output", str(output)])

    results = json.loads(output.read_text())
    assert {figure["benchmark"] for figure in results["figures"]} == {"shapes"}
    assert list(results["skipped"]) == ["gpu"]


def test_every_benchmark_imports_and_has_its_run():
    """CI runs no benchmark (its 12 minutes hold the tests): each one at least imports, with
    what it needs, and takes the options every run gets."""
    import inspect

    from benchmarks import BENCHMARKS

    assert len(BENCHMARKS) >= 17
    for name, module in BENCHMARKS.items():
        assert list(inspect.signature(module.run).parameters) == ["options"], name


def test_unknown_benchmark_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "nonsense"])
    assert exit_info.value.code == 2


def test_alternation_flips_the_order_every_round():
    calls = []
    times = alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, warmup=0)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert [len(samples) for samples in times.values()] == [3, 3]


def test_percentile_is_nearest_rank():
    samples = [float(v) for v in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 95) == 95.0
    assert percentile([3.0], 95) == 3.0


def test_figures_read_as_a_person_writes_them():
    assert show(0.312, "s") == "312 ms"
    assert show(41.2e-6, "s") == "41.2 µs"
    assert show(12480.4, "images/s") == "12,480 images/s"
    assert show(0.98123, "x") == "0.981x"
    assert Figure("t", "fast enough", 0.4, "s", target="< 0.5").met is True
    assert Figure("t", "fast enough", 0.6, "s", target="< 0.5").met is False
    assert Figure("t", "no target", 0.6, "s").met is None


def test_the_watching_cost_summary_is_a_geometric_mean_with_its_interval():
    from benchmarks.attach_cost import summary

    steady = summary([0.97] * 20)
    assert steady["median"] == steady["geometric_mean"] == pytest.approx(0.97)
    assert steady["ci90"] == [pytest.approx(0.97), pytest.approx(0.97)]
    spread = summary([0.9, 1.0] * 30)
    low, high = spread["ci90"]
    assert spread["geometric_mean"] == pytest.approx(math.sqrt(0.9))
    assert low < spread["geometric_mean"] < high
