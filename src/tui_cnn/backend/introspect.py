"""Track a user's own nn.Module: import it, run one forward pass on torch's "meta" device
(shapes only, nothing allocated) and record its data flow: a hook on every module and a
``TorchFunctionMode`` that sees every torch function and Tensor method, so each tensor maps
to the row that produced it (torch.fx cannot trace many real models; this sees every call).

Rows are the leaf modules' calls (and modules that run as one piece, their children never
called, like nn.MultiheadAttention), plus the functional ops that change a shape, merge
branches or use a parameter (``x + identity``, ``torch.cat``, ``flatten``, ``view``, a
class token). Each row is the same ``LayerReport`` the shape engine writes for a spec, so
the tracker's table and formula panel serve both; the receptive field along the flow is
worked out in the domain (domain/graph.py).

Importing the user's module is the only time tui-cnn runs code from outside.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from ..domain import format as fmt
from ..domain.graph import IMAGE, State, shown
from ..domain.layers import LAYER_TYPES
from ..domain.shapes import BYTES_PER_VALUE, LayerReport, Shape, analyze, totals_of
from ..domain.spec import Diagnostic, LayerSpec, ModelSpec
from ..domain.summary import MODEL_INPUT, LayerRow, ModelSummary
from .receptive import ReachOfTensors, unknown_unless_seen
from .track_process import TrackError

# What the user's code may raise: sys.exit() too, which must not end tui-cnn silently.
USER_ERRORS = (Exception, SystemExit)
CPU_BUILD_LIMIT_BYTES = 2 * 1024**3  # a constructor that cannot run on meta may allocate this much on the CPU


def load_target(target: str) -> nn.Module:
    """``MODULE:ATTR`` built (see ``build_target``), on the meta device."""
    return build_target(target)[0]


def build_target(target: str, on_stage: Callable[[str], None] = lambda stage: None) -> tuple[nn.Module, str]:
    """``MODULE:ATTR``: an nn.Module class (built with no arguments) or a factory function,
    from the current directory or an installed package; and where its constructor ran.
    ``on_stage`` hears what it is doing (importing, constructing), for progress.

    It is built on the meta device (nothing allocated). A constructor that computes with real
    values (regnet's widths) cannot run there: it is built on the CPU instead, stopped once
    its tensors pass CPU_BUILD_LIMIT_BYTES, and moved to meta to be traced."""
    on_stage(f"importing {target.partition(':')[0]}")
    factory = _factory(target)
    needed = _required_arguments(factory)
    if needed:
        raise TrackError(f"{target} needs arguments ({', '.join(needed)}): give a function that builds it with none")
    what = "constructing" if inspect.isclass(factory) else "calling"
    on_stage(f"{what} {target}()")
    try:
        with torch.device("meta"):
            model, built_on = factory(), "meta"
    except USER_ERRORS as meta_exc:  # the user's constructor may raise anything, exit included
        try:
            with _CpuBuildLimit():
                model, built_on = factory(), "cpu"
        except _OverLimit:
            raise TrackError(
                f"{what} {target}() fails on the meta device ({_one_line(meta_exc)}) and on the CPU "
                f"it needs more than {fmt.binary_bytes(CPU_BUILD_LIMIT_BYTES)}"
            ) from None
        except USER_ERRORS as exc:
            raise TrackError(f"{what} {target}() failed: {_one_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise TrackError(f"{target}() returned a {type(model).__name__}, not an nn.Module")
    return model.to("meta"), built_on


def construct_target(target: str) -> nn.Module:
    """``MODULE:ATTR`` built to be trained: its own constructor on the CPU, real weights.
    TrackError, in one line, when it cannot be imported or built."""
    factory = _factory(target)
    needed = _required_arguments(factory)
    if needed:
        raise TrackError(f"{target} needs arguments ({', '.join(needed)}): give a function that builds it with none")
    try:
        model = factory()
    except USER_ERRORS as exc:
        raise TrackError(
            f"{'constructing' if inspect.isclass(factory) else 'calling'} {target}() failed: {_one_line(exc)}"
        ) from None
    if not isinstance(model, nn.Module):
        raise TrackError(f"{target}() returned a {type(model).__name__}, not an nn.Module")
    return model


def _factory(target: str) -> Any:
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
    except USER_ERRORS as exc:  # the user's module may raise anything while it imports
        raise TrackError(f"importing {module_name} failed: {_one_line(exc)}") from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise TrackError(f"{module_name} has no attribute {attr!r}")
    if not callable(factory):
        raise TrackError(f"{target} is neither an nn.Module class nor a function that returns one")
    return factory


def _required_arguments(factory: Any) -> list[str]:
    """The parameters a no-argument call would lack; none when the signature is unknown."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    return [
        name
        for name, p in signature.parameters.items()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


class _OverLimit(Exception):
    pass


class _CpuBuildLimit(TorchFunctionMode):
    """Counts the bytes of every new tensor storage a constructor makes on the CPU and stops
    it past CPU_BUILD_LIMIT_BYTES (freed storages still count: a safe overestimate)."""

    def __init__(self) -> None:
        super().__init__()
        self.storages: set[int] = set()
        self.total = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in _tensors(out):
            if tensor.device.type != "cpu":
                continue
            storage = tensor.untyped_storage()
            if storage.data_ptr() not in self.storages:
                self.storages.add(storage.data_ptr())
                self.total += storage.nbytes()
                if self.total > CPU_BUILD_LIMIT_BYTES:
                    raise _OverLimit
        return out


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


MODULE_ROW = "module"


@dataclass(eq=False, slots=True)
class _Node:
    """One row of the flow: a leaf module's call (or a module run as one piece, like
    nn.MultiheadAttention, whose children never run), or a functional op that changed a
    shape, merged branches or used a parameter."""

    name: str
    path: tuple[str, ...]
    sources: list["_Node | None"]  # None: the model's input
    input_shape: Shape | None
    module: nn.Module | None = None  # None for a functional op
    op: str = ""
    call: str = ""
    params: tuple[torch.Tensor, ...] = ()  # a functional op's parameters (a module's are its own)
    # A functional op's mult-adds; a module run as one piece, those of the ops it ran (Swin's
    # attention: F.linear and matmul); 0: worked out from the module's parameters.
    macs: int = 0
    key_shape: Shape | None = None  # a module's second input tensor (an attention's keys)
    reach: State | None = None  # what its output sees of the input image (domain/graph.py)
    output_shape: Shape | None = None
    replaced_by: "_Node | None" = None  # folded into a module that ran as one piece

    def current(self) -> "_Node":
        node = self
        while node.replaced_by is not None:
            node = node.replaced_by
        return node


@dataclass(slots=True)
class _Frame:
    name: str
    module: nn.Module
    leaf: bool
    started_at: int  # len(nodes) when it was called
    sources: list[_Node | None]
    input_shape: Shape | None
    key_shape: Shape | None = None
    children_ran: bool = False


_INPUT = object()  # the producer of the model's input tensor


class _FlowTracer(TorchFunctionMode):
    """Sees every torch function and Tensor method called during the forward pass, and which
    tensor objects each one consumed and produced, so every tensor maps to the row that made
    it. Tensors are kept alive while tracing (they are meta tensors: nothing is allocated),
    so their ids are never reused."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.nodes: list[_Node] = []
        self.made_by: dict[int, tuple[torch.Tensor, Any]] = {}
        self.frames: list[_Frame] = []
        self.param_ids = {id(p) for p in model.parameters()}
        self.called: set[int] = set()  # ids of the modules that ran
        self.reach = ReachOfTensors()  # every tensor's receptive field, inside modules too

    # --- tensors to rows ---

    def producer(self, tensor: torch.Tensor) -> Any:
        entry = self.made_by.get(id(tensor))
        if entry is None or entry[0] is not tensor:
            return None  # a constant: a buffer, or a tensor made inside forward
        made = entry[1]
        return made.current() if isinstance(made, _Node) else made

    def mark(self, value: Any, made: Any) -> None:
        for tensor in _tensors(value):
            self.made_by[id(tensor)] = (tensor, made)

    def sources_of(self, value: Any) -> list[_Node | None]:
        """The distinct rows whose outputs ``value`` holds (None: the model's input);
        parameters and constants are not sources."""
        sources: list[_Node | None] = []
        for tensor in _tensors(value):
            if id(tensor) in self.param_ids:
                continue
            made = self.producer(tensor)
            if made is None:
                continue
            made = None if made is _INPUT else made
            if made not in sources:
                sources.append(made)
        return sources

    # --- functional ops ---

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        reach = self.reach.seen(func, args, kwargs, out)
        if self.frames and self.frames[-1].leaf:
            return out  # inside a leaf module: its call is the row
        outs = _tensors(out)
        if not outs:
            return out
        ins = _tensors((args, kwargs))
        sources = self.sources_of((args, kwargs))
        params = tuple({id(t): t for t in ins if id(t) in self.param_ids}.values())
        data_in = [t for t in ins if id(t) not in self.param_ids]
        in_shape = tuple(data_in[0].shape) if data_in else None
        out_shape = tuple(outs[0].shape)
        if len(sources) >= 2 or params or (in_shape is not None and in_shape != out_shape):
            node = self.op_node(func, args, kwargs, sources, params, in_shape, out_shape)
            node.reach = reach
            self.mark(out, node)
        elif sources:
            self.mark(out, sources[0] if sources[0] is not None else _INPUT)
        return out

    def op_node(self, func, args, kwargs, sources, params, in_shape, out_shape) -> _Node:
        op = _op_name(func)
        scope = self.frames[-1].name if self.frames else ""
        path = (*_split(scope), op)
        node = _Node(
            f"{scope}/{op}" if scope else op,
            path,
            sources,
            in_shape,
            op=op,
            call=_op_call(op, args, kwargs),
            params=params,
            output_shape=out_shape,
            macs=_op_macs(op, args, kwargs, out_shape),
        )
        self.nodes.append(node)
        return node

    # --- modules ---

    def hooks(self, name: str, module: nn.Module):
        leaf = next(module.children(), None) is None

        def before(mod: nn.Module, args: Any, kwargs: Any) -> None:
            self.called.add(id(mod))
            if self.frames:
                self.frames[-1].children_ran = True
            inputs = _tensors((args, kwargs))
            self.frames.append(
                _Frame(
                    name,
                    mod,
                    leaf,
                    len(self.nodes),
                    self.sources_of((args, kwargs)),
                    _first_shape(inputs),
                    tuple(inputs[1].shape) if len(inputs) > 1 else None,
                )
            )

        def after(mod: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
            frame = self.frames.pop()
            unknown_unless_seen(self.reach, (args, kwargs), output)
            if not (frame.leaf or not frame.children_ran):
                return  # its children and ops are the rows
            folded = self.nodes[frame.started_at :]  # a module run as one piece: its ops fold in
            node = _Node(
                name,
                _split(name),
                frame.sources,
                frame.input_shape,
                module=mod,
                output_shape=_first_shape(output),
                key_shape=frame.key_shape,
                macs=sum(inner.macs for inner in folded),
                reach=self.reach.of(_first_tensor(output)),
            )
            for inner in folded:
                inner.replaced_by = node
            del self.nodes[frame.started_at :]
            self.nodes.append(node)
            self.mark(output, node)

        return before, after


def _tensors(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor)]


def _split(name: str) -> tuple[str, ...]:
    return tuple(name.split(".")) if name else ()


def _op_name(func: Any) -> str:
    """``torch.flatten`` -> flatten, ``Tensor.__iadd__`` -> add_, ``Tensor.__add__`` -> add."""
    name = getattr(func, "__name__", None) or str(func)
    if name.startswith("__i") and name.endswith("__") and name[3:-2] in _IN_PLACE:
        return name[3:-2] + "_"
    return name.strip("_") or name


_IN_PLACE = {"add", "sub", "mul", "truediv", "floordiv", "matmul", "and", "or", "pow"}


def _op_call(op: str, args: Any, kwargs: dict[str, Any]) -> str:
    """How the op was called, without its tensors: cat(dim=1), flatten(1), view(8, 512)."""
    shown = [_short(a) for a in args if not _tensors(a)]
    shown += [f"{k}={_short(v)}" for k, v in kwargs.items() if not _tensors(v)]
    text = f"{op}({', '.join(shown)})"
    return fmt.cut(text, 48)


def _short(value: Any) -> str:
    if isinstance(value, torch.Size):
        return repr(tuple(value))
    text = repr(value)
    return fmt.cut(text, 20)


def track(
    model: nn.Module, input_shape: tuple[int, int, int], batch_size: int, title: str, built_on: str = "meta"
) -> ModelSummary:
    """Every row of the data flow during one forward pass of a (batch_size, *input_shape) input."""
    model = model.to("meta").eval()
    full_shape = (batch_size, *input_shape)
    nodes, output, called = _traced_flow(model, full_shape)
    index_of = {id(node): index for index, node in enumerate(nodes)}
    seen: set[int] = set()
    rows = []
    for index, node in enumerate(nodes):
        inputs = tuple(MODEL_INPUT if s is None else index_of[id(s.current())] for s in node.sources)
        row = _row(index, node, seen)
        rf, jump = shown(node.reach, node.output_shape)
        rows.append(
            replace(row, inputs=inputs, path=node.path, report=replace(row.report, receptive_field=rf, jump=jump))
        )
    rows = tuple(rows) + _never_ran(model, called, seen, len(rows))
    reports = [r.report for r in rows]
    diagnostics = (
        _built_on_cpu(built_on) + _outside_leaves(model, seen) + tuple(d for r in reports for d in r.diagnostics)
    )
    kinds = {name: type(m).__name__ for name, m in model.named_modules() if name}
    return ModelSummary(
        title,
        full_shape,
        tuple(rows),
        totals_of(full_shape, reports),
        diagnostics,
        tracked=True,
        output_shape=_first_shape(output),
        built_on=built_on,
        kinds=kinds,
    )


def _traced_flow(model: nn.Module, shape: Shape) -> tuple[list[_Node], Any]:
    tracer = _FlowTracer(model)
    handles = []
    for name, module in model.named_modules():
        before, after = tracer.hooks(name or "", module)
        if module is model and next(model.children(), None) is not None:
            continue  # the model itself is the root: its ops have scope ""
        handles += [
            module.register_forward_pre_hook(before, with_kwargs=True),
            module.register_forward_hook(after, with_kwargs=True),
        ]
    image = torch.empty(shape, device="meta")
    tracer.mark(image, _INPUT)
    tracer.reach.set(image, IMAGE)
    try:
        with torch.no_grad(), tracer:
            output = model(image)
    except USER_ERRORS as exc:  # the user's forward may raise anything
        where = (
            f" in {tracer.frames[-1].name}"
            if tracer.frames
            else (f" after {tracer.nodes[-1].name}" if tracer.nodes else "")
        )
        raise TrackError(
            f"the forward pass on an input of shape {fmt.shape(shape)} failed{where}: {_one_line(exc)}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    if not tracer.nodes:
        raise TrackError("the forward pass ran no module and no torch operation on its input")
    return tracer.nodes, output, tracer.called


def _never_ran(model: nn.Module, called: set[int], seen: set[int], first: int) -> tuple[LayerRow, ...]:
    """Rows after the flow for the outermost modules the forward pass never called (an
    auxiliary classifier in eval mode): their parameters are the model's too."""
    rows: list[LayerRow] = []
    taken: list[str] = []
    for name, module in model.named_modules():
        if not name or id(module) in called or any(name.startswith(t + ".") for t in taken):
            continue
        unseen = [p for p in module.parameters() if id(p) not in seen]
        if not unseen:
            continue
        seen.update(id(p) for p in unseen)
        taken.append(name)
        index = first + len(rows)
        report = LayerReport(
            index=index,
            type=type(module).__name__,
            args={},
            input_shape=None,
            output_shape=None,
            params=sum(p.numel() for p in unseen),
            trainable_params=sum(p.numel() for p in unseen if p.requires_grad),
            buffers=sum(b.numel() for b in module.buffers()),
            macs=0,
            activation_bytes=0,
            receptive_field=None,
            jump=None,
            geometry=None,
            diagnostics=(
                Diagnostic(
                    index,
                    None,
                    "warning",
                    "this module never ran in the forward pass (an auxiliary head in eval mode?): "
                    "its parameters count, it has no shapes",
                ),
            ),
        )
        rows.append(LayerRow(name, repr(module).splitlines()[0], report, inputs=(), path=_split(name)))
    return tuple(rows)


def _first_tensor(value: Any) -> torch.Tensor | None:
    tensors = _tensors(value)
    return tensors[0] if tensors else None


def _first_shape(value: Any) -> Shape | None:
    """The shape of a tensor, or of the first tensor in a tuple, list or dict (torchinfo shows
    that one; a model may return a dict of outputs)."""
    tensors = _tensors(value)
    return tuple(tensors[0].shape) if tensors else None


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


def _row(index: int, node: _Node, seen: set[int]) -> LayerRow:
    """One row; a parameter counts once, in the first row that uses it (a tied weight is not
    counted twice), as torchinfo does."""
    module, out = node.module, node.output_shape
    if module is None:
        params_of = [p for p in node.params if id(p) not in seen]
        spec = None
    else:
        params_of = [p for p in module.parameters() if id(p) not in seen]
        spec = layer_spec_of(module)
    seen.update(id(p) for p in params_of)
    geometry, diagnostics = _domain_view(index, spec, node)
    if module is not None:
        diagnostics += _unbatched(index, module, node.input_shape)
    report = LayerReport(
        index=index,
        type=node.op or (spec.type if spec else type(module).__name__),
        args=dict(spec.args) if spec else {},
        input_shape=node.input_shape,
        output_shape=out,
        params=sum(p.numel() for p in params_of),
        trainable_params=sum(p.numel() for p in params_of if p.requires_grad),
        buffers=sum(b.numel() for b in module.buffers()) if module is not None else 0,
        macs=node.macs or (_macs(module, out, node.key_shape) if module is not None else 0),
        activation_bytes=math.prod(out) * BYTES_PER_VALUE if out else 0,
        receptive_field=None,
        jump=None,
        geometry=geometry,
        diagnostics=diagnostics,
    )
    if module is None:
        call_text = node.call
    else:
        call_text = fmt.layer_call(spec.type, spec.args) if spec else repr(module).splitlines()[0]
    return LayerRow(node.name, call_text, report)


def _domain_view(index: int, spec: LayerSpec | None, call: _Node) -> tuple[Any, tuple[Diagnostic, ...]]:
    """The shape engine's geometry for a known layer on an image, so the formula panel works
    it out; and a warning if the engine and torch disagree on the output shape."""
    shape = call.input_shape
    if spec is None or shape is None or len(shape) != 4:
        return None, ()
    report = analyze(ModelSpec(spec.type, shape[1:], (spec,)), batch_size=shape[0]).layers[0]
    if report.output_shape == call.output_shape:
        return report.geometry, ()
    return report.geometry, (
        Diagnostic(
            index,
            None,
            "warning",
            f"tui-cnn's shape engine expects {fmt.shape(report.output_shape)} here "
            f"but torch gives {fmt.shape(call.output_shape)}",
            "the table shows torch's shapes",
        ),
    )


def _macs(module: nn.Module, out: Shape | None, key_shape: Shape | None = None) -> int:
    """Mult-adds of what the module computes: a convolution's weights and bias once per output
    position (N x H_out x W_out), a Linear's once per position of every leading dimension
    (N x tokens, or N x H x W on a channels-last map: torchinfo counts it once per sample,
    see torchinfo_macs), weights applied per step or token (recurrent, attention projections)
    N x length times, other weights (a norm's scale and shift) once per sample, as torchinfo;
    an attention's products of queries, keys and values (``key_shape``: its second input)."""
    if out is None:
        return 0
    macs = 0
    for name, param in module.named_parameters():
        if name in ("weight", "bias"):
            if "Conv" in type(module).__name__:
                per = out[0] * math.prod(out[2:])
            elif isinstance(module, nn.Linear):
                per = math.prod(out[:-1])
            else:
                per = out[0]
        elif "weight" in name or "bias" in name:
            per = math.prod(out[:2])
        else:
            continue
        macs += per * param.numel()
    return macs + _attention_products(module, out, key_shape)


def _attention_products(module: nn.Module, out: Shape, key_shape: Shape | None) -> int:
    """nn.MultiheadAttention's two products besides its projections (queries x keys, weights x
    values): 2 x N x query length x key length x embed_dim."""
    if not isinstance(module, nn.MultiheadAttention) or len(out) != 3:
        return 0
    batch, length = (out[0], out[1]) if module.batch_first else (out[1], out[0])
    keys = length
    if key_shape is not None and len(key_shape) == 3:
        keys = key_shape[1] if module.batch_first else key_shape[0]
    return 2 * batch * length * keys * module.embed_dim


#: Functional ops that multiply-add: their mult-adds in a row of their own (torchinfo counts
#: modules only, so these add to its total).
_CONVOLUTIONS = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}


def _op_macs(op: str, args: Any, kwargs: dict[str, Any], out: Shape) -> int:
    """Mult-adds of a functional F.linear, F.conv*d or matrix product, from its operands."""
    tensors = _tensors((args, kwargs))
    if op == "linear" and len(tensors) >= 2:
        return math.prod(out[:-1]) * sum(t.numel() for t in tensors[1:3])
    if op in _CONVOLUTIONS and len(tensors) >= 2:
        return out[0] * math.prod(out[2:]) * sum(t.numel() for t in tensors[1:3])
    if op in ("matmul", "mm", "bmm") and len(tensors) >= 2 and tensors[0].dim() >= 1:
        return math.prod(out) * tensors[0].shape[-1]
    return 0


def _unbatched(index: int, module: nn.Module, input_shape: Shape | None) -> tuple[Diagnostic, ...]:
    """A Conv3d (or any 3-d layer) given a 4-D tensor runs it as one unbatched volume: torch
    takes the batch for channels and the channels for depth. Said, not silently traced."""
    kind = type(module).__name__
    dims = kind[-2] if kind.endswith("d") and kind[-2:-1].isdigit() else None
    if dims is None or input_shape is None or len(input_shape) != int(dims) + 1:
        return ()
    return (
        Diagnostic(
            index,
            None,
            "warning",
            f"{kind} takes a {int(dims) + 2}-D batch but got a {len(input_shape)}-D tensor "
            f"{fmt.shape(input_shape)}: torch runs it as one unbatched sample, the batch of "
            f"{input_shape[0]} read as its {input_shape[0]} channels",
            "give this model the input it expects (tui-cnn traces (N, C, H, W) inputs)",
        ),
    )


def _built_on_cpu(built_on: str) -> tuple[Diagnostic, ...]:
    if built_on != "cpu":
        return ()
    return (
        Diagnostic(
            None,
            None,
            "warning",
            "built on the CPU: its constructor cannot run on the meta device (at most "
            f"{fmt.binary_bytes(CPU_BUILD_LIMIT_BYTES)} allowed there); traced on meta",
        ),
    )


def _outside_leaves(model: nn.Module, seen: set[int]) -> tuple[Diagnostic, ...]:
    missed = sum(p.numel() for p in model.parameters() if id(p) not in seen)
    if not missed:
        return ()
    return (
        Diagnostic(
            None,
            None,
            "warning",
            f"{fmt.grouped(missed)} parameters were never used by the forward pass (a module it never "
            "called, or a parameter read outside torch operations); they are not in the table or totals",
        ),
    )
