"""Track a user's own nn.Module: import it, run one forward pass on torch's "meta" device with
a hook on every leaf module (shapes only, nothing allocated), and describe each leaf call
with the same ``LayerReport`` the shape engine writes for a spec, so the tracker's table and
formula panel serve both.

Importing the user's module is the only time tui-cnn runs code from outside.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ..domain import format as fmt
from ..domain.layers import LAYER_TYPES
from ..domain.shapes import BYTES_PER_VALUE, LayerReport, Shape, analyze, grow_receptive_field, totals_of
from ..domain.spec import Diagnostic, LayerSpec, ModelSpec
from ..domain.summary import LayerRow, ModelSummary


class TrackError(Exception):
    """Why a model could not be tracked, in one line for the user (no traceback)."""


def load_target(target: str) -> nn.Module:
    """``MODULE:ATTR``: an nn.Module class (built with no arguments) or a factory function,
    from the current directory or an installed package. Built on the meta device."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise TrackError(f"{target!r} is not MODULE:ATTR (e.g. mymodel:Net, or torchvision.models:resnet18)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise TrackError(f"no module named {module_name!r} in {os.getcwd()} or the installed packages") from None
        raise TrackError(f"importing {module_name} failed: {_one_line(exc)}") from None
    except Exception as exc:  # the user's module may raise anything while it imports
        raise TrackError(f"importing {module_name} failed: {_one_line(exc)}") from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise TrackError(f"{module_name} has no attribute {attr!r}")
    if not callable(factory):
        raise TrackError(f"{target} is neither an nn.Module class nor a function that returns one")
    try:
        with torch.device("meta"):
            model = factory()
    except Exception as exc:
        what = "constructing" if inspect.isclass(factory) else "calling"
        raise TrackError(f"{what} {target}() failed (it must need no arguments): {_one_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise TrackError(f"{target}() returned a {type(model).__name__}, not an nn.Module")
    return model


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass(slots=True)
class _Call:
    name: str
    module: nn.Module
    input_shape: Shape | None
    output_shape: Shape | None


def track(model: nn.Module, input_shape: tuple[int, int, int], batch_size: int, title: str) -> ModelSummary:
    """Every leaf module's call during one forward pass of a (batch_size, *input_shape) input."""
    model = model.to("meta").eval()
    calls = _traced_calls(model, (batch_size, *input_shape))
    rows, seen, rf, jump = [], set(), (1, 1), (1, 1)
    for index, call in enumerate(calls):
        row = _row(index, call, seen)
        report = row.report
        if report.output_shape is None or len(report.output_shape) != 4 or rf is None:
            rf = jump = None
        elif report.geometry is not None:
            rf, jump = grow_receptive_field(rf, jump, report.geometry)
        rows.append(replace(row, report=replace(report, receptive_field=rf, jump=jump)))
    full_shape = (batch_size, *input_shape)
    reports = [r.report for r in rows]
    diagnostics = _outside_leaves(model, seen) + tuple(d for r in reports for d in r.diagnostics)
    return ModelSummary(title, full_shape, tuple(rows), totals_of(full_shape, reports), diagnostics, tracked=True)


def _traced_calls(model: nn.Module, shape: Shape) -> list[_Call]:
    calls: list[_Call] = []
    started: list[str] = []  # the leaf that was running when the forward failed is the last one

    def hooks(name: str):
        def start(module: nn.Module, inputs: Any) -> None:
            started.append(name)

        def record(module: nn.Module, inputs: Any, output: Any) -> None:
            calls.append(_Call(name, module, _first_shape(inputs), _first_shape(output)))
        return start, record

    leaves = [(name or type(m).__name__, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    handles = []
    for name, module in leaves:
        start, record = hooks(name)
        handles += [module.register_forward_pre_hook(start), module.register_forward_hook(record)]
    try:
        with torch.no_grad():
            model(torch.empty(shape, device="meta"))
    except Exception as exc:  # the user's forward may raise anything
        if len(started) > len(calls):
            where = f" in {started[-1]}"
        else:
            where = f" after {calls[-1].name}" if calls else ""
        raise TrackError(f"the forward pass on an input of shape {fmt.shape(shape)} failed{where}: "
                         f"{_one_line(exc)}") from None
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _first_shape(value: Any) -> Shape | None:
    """The shape of a tensor, or of the first tensor in a tuple or list (torchinfo shows that one)."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        for item in value:
            shape = _first_shape(item)
            if shape is not None:
                return shape
    return None


def layer_spec_of(module: nn.Module) -> LayerSpec | None:
    """A leaf module the domain knows, as the spec that would build it; None for others
    (a subclass too: it may change what forward does)."""
    name = type(module).__name__
    ltype = LAYER_TYPES.get(name)
    if ltype is None or type(module) is not getattr(nn, name, None):
        return None
    args = {}
    for field in ltype.fields:
        value = getattr(module, field.name, None)
        if field.name == "bias":  # torch keeps the tensor; the constructor takes a flag
            value = value is not None
        if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
            value = value[0]  # (3, 3) is written 3, as people write it
        if value is not None:
            args[field.name] = value
    return LayerSpec.of(name, **args)


def _row(index: int, call: _Call, seen: set[int]) -> LayerRow:
    module, out = call.module, call.output_shape
    spec = layer_spec_of(module)
    new_params = [p for p in module.parameters() if id(p) not in seen]  # shared weights count once
    seen.update(id(p) for p in module.parameters())
    params = sum(p.numel() for p in new_params)
    trainable = sum(p.numel() for p in new_params if p.requires_grad)
    geometry, diagnostics = _domain_view(index, spec, call)
    report = LayerReport(
        index=index,
        type=spec.type if spec else type(module).__name__,
        args=dict(spec.args) if spec else {},
        input_shape=call.input_shape,
        output_shape=out,
        params=params,
        trainable_params=trainable,
        buffers=sum(b.numel() for b in module.buffers()),
        macs=_macs(module, out),
        activation_bytes=math.prod(out) * BYTES_PER_VALUE if out else 0,
        receptive_field=None,
        jump=None,
        geometry=geometry,
        diagnostics=diagnostics,
    )
    call_text = fmt.layer_call(spec.type, spec.args) if spec else repr(module).splitlines()[0]
    return LayerRow(call.name, call_text, report)


def _domain_view(index: int, spec: LayerSpec | None, call: _Call) -> tuple[Any, tuple[Diagnostic, ...]]:
    """The shape engine's geometry for a known layer on an image, so the formula panel works
    it out; and a warning if the engine and torch disagree on the output shape."""
    shape = call.input_shape
    if spec is None or shape is None or len(shape) != 4:
        return None, ()
    report = analyze(ModelSpec(spec.type, shape[1:], (spec,)), batch_size=shape[0]).layers[0]
    if report.output_shape == call.output_shape:
        return report.geometry, ()
    return report.geometry, (Diagnostic(index, None, "warning",
                                        f"tui-cnn's shape engine expects {fmt.shape(report.output_shape)} here "
                                        f"but torch gives {fmt.shape(call.output_shape)}",
                                        "the table shows torch's shapes"),)


def _macs(module: nn.Module, out: Shape | None) -> int:
    """torchinfo's mult-adds: a conv's weights and bias once per output position, other
    weights once per sample (per step for recurrent weights)."""
    if out is None:
        return 0
    macs = 0
    for name, param in module.named_parameters():
        if name in ("weight", "bias"):
            per = out[0] * math.prod(out[2:]) if "Conv" in type(module).__name__ else out[0]
        elif "weight" in name or "bias" in name:
            per = math.prod(out[:2])
        else:
            continue
        macs += per * param.numel()
    return macs


def _outside_leaves(model: nn.Module, seen: set[int]) -> tuple[Diagnostic, ...]:
    missed = sum(p.numel() for p in model.parameters() if id(p) not in seen)
    if not missed:
        return ()
    return (Diagnostic(None, None, "warning",
                       f"{fmt.grouped(missed)} parameters belong to no leaf module that ran (an nn.Parameter "
                       "on a container, or a module forward never called); they are not in the table or totals"),)
