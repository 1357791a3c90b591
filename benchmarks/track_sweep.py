"""``python -m benchmarks.track_sweep [NAME ...] [--markdown]``: `tui-cnn track` against
torchinfo on every torchvision classification model (opt-in: minutes on 2 cores).

For each model: parameters (ours, sum(p.numel()), torchinfo's), mult-adds (ours,
torchinfo's, and the part of ours that torchinfo's rule leaves out: modules that run as one
piece with their children never called, i.e. nn.MultiheadAttention, whose projections and
attention products torchinfo does not count; a Linear applied at more than one position per
sample, which torchinfo counts once per sample and tui-cnn at every position, as the
operation computes it since issue 19; functional F.linear/F.conv2d/matrix products, which
torchinfo does not count) and the time to build and track. A model whose build takes more than
BUILD_LIMIT_S is skipped, as the issue's proof asks.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

INPUT_SIZES = {"inception_v3": 299}  # its stem needs at least 75x75; 299 as published
BUILD_LIMIT_S = 10.0


def compare(name: str) -> dict:
    import torch
    import torchinfo
    import torchvision.models

    from tui_cnn.backend.introspect import build_target, track

    size = INPUT_SIZES.get(name, 224)
    started = time.perf_counter()
    model, built_on = build_target(f"torchvision.models:{name}")
    built = time.perf_counter() - started
    if built > BUILD_LIMIT_S:
        return {"model": name, "skipped": f"build took {built:.1f} s"}
    started = time.perf_counter()
    summary = track(model, (3, size, size), 1, name, built_on)
    tracked = time.perf_counter() - started
    expected = torchinfo.summary(model, input_size=(1, 3, size, size), device="meta", verbose=0)
    del torch, torchvision
    return {
        "model": name,
        "built_on": built_on,
        "rows": len(summary.rows),
        "params": summary.totals.params,
        "numel": sum(p.numel() for p in model.parameters()),
        "torchinfo_params": expected.total_params,
        "macs": summary.totals.macs,
        "torchinfo_macs": expected.total_mult_adds,
        "whole_module_macs": whole_module_macs(summary, model),
        "beyond_torchinfo_macs": beyond_torchinfo_macs(summary),
        "build_s": built,
        "track_s": tracked,
    }


def whole_module_macs(summary, model) -> int:
    """MACs of rows for modules with children (run as one piece): torchinfo counts leaves only."""
    with_children = {name for name, m in model.named_modules() if next(m.children(), None) is not None}
    return sum(row.report.macs for row in summary.rows if row.name in with_children)


def beyond_torchinfo_macs(summary) -> int:
    """What tui-cnn counts and torchinfo's rule does not: a Linear at every position beyond
    one per sample, and functional ops (rows of no module)."""
    extra = 0
    for row in summary.rows:
        out = row.report.output_shape
        if "Linear" in row.report.type and out is not None and len(out) > 2:
            extra += row.report.params * (math.prod(out[:-1]) - out[0])
        elif row.report.type.islower():  # a functional op's row
            extra += row.report.macs
    return extra


def verdict(r: dict) -> str:
    if "skipped" in r:
        return "skipped"
    params_ok = r["params"] == r["numel"]
    macs_ok = r["macs"] - r["whole_module_macs"] - r["beyond_torchinfo_macs"] == r["torchinfo_macs"]
    return "ok" if params_ok and macs_ok else "DIFFERS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.track_sweep")
    parser.add_argument("names", nargs="*", help="models (default: every torchvision classification model)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    import torchvision.models

    names = args.names or torchvision.models.list_models(module=torchvision.models)
    print(
        "| model | built on | rows | params (ours = sum numel) | torchinfo params | MACs (ours) "
        "| torchinfo MACs | ours - torchinfo (attention, per-position Linear, functional ops) | build s | track s | verdict |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    bad = 0
    for name in names:
        try:
            r = compare(name)
        except Exception as exc:  # one model's failure is a row, not the end of the sweep
            print(f"| {name} | failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]} ||||||||||")
            bad += 1
            continue
        if "skipped" in r:
            print(f"| {name} | {r['skipped']} ||||||||||")
            continue
        v = verdict(r)
        bad += v != "ok"
        same = "=" if r["params"] == r["numel"] else f"≠ {r['numel']:,}"
        print(
            f"| {name} | {r['built_on']} | {r['rows']} | {r['params']:,} {same} | {r['torchinfo_params']:,} "
            f"| {r['macs']:,} | {r['torchinfo_macs']:,} | {r['macs'] - r['torchinfo_macs']:,} "
            f"| {r['build_s']:.2f} | {r['track_s']:.2f} | {v} |",
            flush=True,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
