"""The data-flow graph of a tracked model, on plain numbers: which earlier rows each row
consumed, the receptive field and jump along that flow, the ``git log --graph`` gutter that
shows branches and merges, and the rows folded to a module depth (torchinfo's ``depth``).

Pure Python: the backend's tracer records the flow (``LayerRow.inputs``); everything that
follows from it is worked out here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Sequence, cast

from . import format as fmt
from .explain import Section
from .shapes import LayerReport, Pair
from .summary import MODEL_INPUT, LayerRow

# --- the receptive field along the flow ---
#
# The tracer (backend/introspect.py) follows every tensor of the forward pass, inside modules
# too, and asks here what each operation makes of what its inputs saw. A tensor's ``Reach``:
# how much of the input image one of its positions sees (the receptive field, Araujo et al.,
# "Computing Receptive Fields of Convolutional Neural Networks", 2019) and how far apart on
# the image its neighbouring positions are (the jump), as fractions (upsampling divides the
# jump), and which of its dimensions are H and W (convnext permutes them to the end).
#
# Two other states: GLOBAL, a value pooled over the whole image (a squeeze-excitation gate, a
# global context), which by convention does not widen a map it is broadcast onto; UNKNOWN,
# after an operation whose window the tracer cannot know: every tensor made from it shows no
# receptive field rather than one that is too small. Normalisation statistics are not counted
# (a batch norm's are the batch's), as is usual.


@dataclass(frozen=True, slots=True)
class Branch:
    """What one position sees along one way through the graph."""

    rf: tuple[Fraction, Fraction]
    # The largest distance on the image between what two neighbouring positions see. After
    # upsampling, neighbours may see the same thing (density: positions per distinct one),
    # so the distance varies; the largest keeps every field computed from it an upper bound.
    jump: tuple[Fraction, Fraction]
    density: tuple[Fraction, Fraction] = (Fraction(1), Fraction(1))

    def covers(self, other: "Branch") -> bool:
        """Every field grown from ``other`` is at most one grown from this one."""
        return all(
            self.rf[i] >= other.rf[i] and self.jump[i] >= other.jump[i] and self.density[i] <= other.density[i]
            for i in range(2)
        )


@dataclass(frozen=True, slots=True)
class Reach:
    """A map's positions: what they see along each way that cannot be reduced to another
    (merged branches that upsampled differently grow differently), and which of its
    dimensions are H and W, counted from the end: (-2, -1) in (N, C, H, W)."""

    branches: tuple[Branch, ...]
    dims: tuple[int, int]

    @property
    def rf(self) -> tuple[Fraction, Fraction]:
        return cast("tuple[Fraction, Fraction]", tuple(max(b.rf[i] for b in self.branches) for i in range(2)))


GLOBAL = "global"
UNKNOWN = "unknown"
State = Reach | str  # or GLOBAL or UNKNOWN
IMAGE = Reach((Branch((Fraction(1), Fraction(1)), (Fraction(1), Fraction(1))),), (-2, -1))  # the input itself


def _axis(
    rf: Fraction, jump: Fraction, density: Fraction, taps: int, stride: Fraction, spread: bool = False
) -> tuple[Fraction, Fraction, Fraction]:
    """One axis through a window of ``taps`` consecutive positions moved ``stride`` at a time.
    Those positions hold at most floor((taps-2)/density)+2 distinct ones (``taps`` when each is
    distinct); ``spread``: a transposed convolution's window over its input spread ``stride``
    apart, which holds at most floor((taps-1)/stride)+1 inputs."""
    if spread:
        distinct = (taps - 1) // int(stride) + 1 if taps > 1 else 1
        return rf + (distinct - 1) * jump, jump, density * stride
    distinct = math.floor(Fraction(taps - 2) / density) + 2 if taps > 1 else 1
    rf = rf + (distinct - 1) * jump
    density = density / stride
    if density < 1:  # strides past the repeats: neighbours up to ceil(1/density) distinct ones apart
        jump, density = jump * math.ceil(1 / density), Fraction(1)
    return rf, jump, density


def _through(reach: Reach, taps: tuple[int, ...], stride: tuple[Fraction, ...], spread: bool = False) -> Reach:
    """``taps`` and ``stride``: along H and W (items 0 and 1)."""
    branches = []
    for b in reach.branches:
        axes = [_axis(b.rf[i], b.jump[i], b.density[i], taps[i], stride[i], spread) for i in range(2)]
        branches.append(Branch((axes[0][0], axes[1][0]), (axes[0][1], axes[1][1]), (axes[0][2], axes[1][2])))
    return Reach(_pruned(branches), reach.dims)


def _pruned(branches: Sequence[Branch]) -> tuple[Branch, ...]:
    kept: list[Branch] = []
    for branch in branches:
        if any(k.covers(branch) for k in kept):
            continue
        kept = [k for k in kept if not branch.covers(k)] + [branch]
    return tuple(kept)


def sliding_window(reach: Reach, kernel: Pair, stride: Pair, dilation: Pair) -> Reach:
    """A convolution or pooling window: (kernel-1)*dilation+1 positions, ``stride`` apart."""
    return _through(
        reach, tuple(dilation[i] * (kernel[i] - 1) + 1 for i in range(2)), tuple(Fraction(stride[i]) for i in range(2))
    )


def transposed_window(reach: Reach, kernel: Pair, stride: Pair, dilation: Pair) -> Reach:
    """A transposed convolution: its input spread ``stride`` apart, then a sliding window (a
    2x2 kernel of stride 2: each output sees one input, each input reaches 4 outputs)."""
    return _through(
        reach,
        tuple(dilation[i] * (kernel[i] - 1) + 1 for i in range(2)),
        tuple(Fraction(stride[i]) for i in range(2)),
        spread=True,
    )


def resampled(reach: Reach, taps: int, size_in: Pair, size_out: Pair) -> Reach:
    """Interpolation to another size: each output reads ``taps`` neighbouring inputs (1 nearest,
    2 (bi)linear, 4 bicubic), in/out inputs apart (upsampling repeats them)."""
    return _through(reach, (taps, taps), tuple(Fraction(size_in[i], size_out[i]) for i in range(2)))


def skipped(reach: Reach, step: Pair) -> Reach:
    """x[..., ::step]: every step-th position."""
    return _through(reach, (1, 1), tuple(Fraction(step[i]) for i in range(2)))


def merged(inputs: Sequence[tuple[State, Pair | None]]) -> State | None:
    """What an operation on several values sees (``x + skip``, ``torch.cat``): the largest field
    and jump among the inputs at the largest spatial size (``Pair``: their H, W); inputs
    broadcast onto it (a 1x1 gate) and GLOBAL ones do not widen it. UNKNOWN wins; None: no
    input came from the image."""
    states = [state for state, _ in inputs]
    if UNKNOWN in states:
        return UNKNOWN
    maps = [(state, size) for state, size in inputs if isinstance(state, Reach) and size is not None]
    if not maps:
        return GLOBAL if GLOBAL in states else None
    largest = max((size for _, size in maps), key=lambda hw: hw[0] * hw[1])
    full = [state for state, size in maps if size == largest] or [maps[0][0]]
    if any(size != largest and size != (1, 1) for _, size in maps):
        return UNKNOWN  # maps of different sizes combined some way the tracer cannot tell
    return Reach(_pruned([b for state in full for b in state.branches]), full[0].dims)


def shown(state: State | None, shape: Sequence[int] | None) -> tuple[Pair | None, Pair | None]:
    """A row's receptive field and jump for the table; the jump only where neighbours are
    evenly spaced (not after upsampling, where some see the same). None for a tensor without
    H and W."""
    if not isinstance(state, Reach) or shape is None or len(shape) != 4:
        return None, None
    rf = cast(Pair, tuple(math.ceil(v) for v in state.rf))  # H and W
    even = all(v == 1 and j.denominator == 1 for b in state.branches for v, j in zip(b.density, b.jump))
    jump = cast(Pair, tuple(int(max(b.jump[i] for b in state.branches)) for i in range(2)))
    return rf, jump if even else None


def explain_flow(rows: Sequence[LayerRow], index: int) -> tuple[Section, ...]:
    """The detail panel's words for a tracked row's place in the flow: what it takes, where
    its output goes, whether it merges or branches."""
    row = rows[index]
    if not row.path:
        return ()

    def called(source: int) -> str:
        if source == MODEL_INPUT:
            return "the model's input"
        shape = rows[source].report.output_shape
        return f"{rows[source].name} ({fmt.per_sample(shape)})" if shape else rows[source].name

    takes = [called(source) for source in row.inputs]
    users = [called(later) for later in range(index + 1, len(rows)) if index in rows[later].inputs]
    lines = [f"takes {', '.join(takes) if takes else 'no earlier output (parameters or constants only)'}"]
    if len(takes) > 1:
        lines.append(f"merges {len(takes)} branches")
    lines.append(f"goes to {', '.join(users)}" if users else "goes to no later row (the model's output)")
    if len(users) > 1:
        lines.append(f"branches into {len(users)}")
    return (Section("Data flow", tuple(lines)),)


# --- the gutter: branches and merges, one character pair a lane ---

MAX_LANES = 6  # wider gutters push the figures off an 80-column screen; more lanes show "…"


def gutter(rows: Sequence[LayerRow]) -> list[str]:
    """For each row, lanes like ``git log --graph``: ``●`` the row, ``│`` a value still
    waiting for a later row, ``├─●`` a branch off a value that is used again later,
    ``●─┘`` a merge of another lane into this row."""
    last_use: dict[int | None, int] = {}  # looked up with a free lane's None too: -1, never used
    for index, row in enumerate(rows):
        for source in _sources(index, row):
            last_use[source] = index
    lanes: list[int | None] = [MODEL_INPUT]
    lines = []
    for index, row in enumerate(rows):
        sources = _sources(index, row)
        held = [lane for lane, value in enumerate(lanes) if value in sources]
        column = held[0] if held else _free_lane(lanes)
        branch_from = None
        if held and last_use.get(lanes[column], -1) > index:  # its input is needed again: branch off
            branch_from, column = column, _free_lane(lanes)
        merged = [lane for lane in held if lane != branch_from and lane != column]
        ending = {lane for lane in merged if last_use.get(lanes[lane], -1) <= index}
        lines.append(_draw(lanes, column, branch_from, merged, ending))
        for lane in held:  # values whose last use this was leave their lane
            if last_use.get(lanes[lane], -1) <= index:
                lanes[lane] = None
        if column >= len(lanes):
            lanes.append(None)
        lanes[column] = index if last_use.get(index, -1) > index else None
        while lanes and lanes[-1] is None:
            lanes.pop()
    return lines


def _sources(index: int, row: LayerRow) -> tuple[int, ...]:
    """What a row consumed: a spec's layers (no flow recorded) the one before; a tracked row
    with no inputs (a class token from a parameter) nothing."""
    if row.inputs or row.path:
        return row.inputs
    return (index - 1,) if index else (MODEL_INPUT,)


def _free_lane(lanes: list[int | None]) -> int:
    return next((lane for lane, value in enumerate(lanes) if value is None), len(lanes))


def _draw(lanes: list[int | None], column: int, branch_from: int | None, merged: list[int], ending: set[int]) -> str:
    """One row's gutter: ``●`` in ``column``; a line from it to each lane it joins with."""
    width = max(len(lanes), column + 1)
    joined = {*merged, *(() if branch_from is None else (branch_from,)), column}
    lo, hi = min(joined), max(joined)
    joints = ["─" if lo <= lane < hi else " " for lane in range(width)]
    cells = []
    for lane in range(width):
        live = lane < len(lanes) and lanes[lane] is not None
        left = lane > 0 and joints[lane - 1] == "─"
        right = joints[lane] == "─"
        if lane == column:
            cells.append("●")
        elif lane in merged and lane in ending:  # its value ends here: the lane turns into the line
            cells.append("┴" if left and right else ("┘" if left else "└"))
        elif lane in joined:  # its value goes on down the lane and also feeds this row
            cells.append("┼" if left and right else ("┤" if left else "├"))
        elif left and right:
            cells.append("┼" if live else "─")
        else:
            cells.append("│" if live else " ")
    text = "".join(c + j for c, j in zip(cells, joints)).rstrip()
    if width > MAX_LANES:
        text = text[: 2 * MAX_LANES - 1] + "…"
    return text


# --- the hierarchy: rows folded to a module depth ---


def depth_of(row: LayerRow) -> int:
    return len(row.path)


def max_depth(rows: Sequence[LayerRow]) -> int:
    return max((depth_of(row) for row in rows), default=0)


def fold(rows: Sequence[LayerRow], depth: int, kinds: dict[str, str] | None = None) -> tuple[LayerRow, ...]:
    """The rows with every module deeper than ``depth`` folded into its ancestor at that
    depth: one row that sums the parameters and MACs of what ran in it, with the shape it
    took in and gave out. Folded rows consume what their parts took from outside."""
    kinds = kinds or {}
    groups: list[list[int]] = []
    keys: list[tuple[str, ...] | None] = []
    for index, row in enumerate(rows):
        key = row.path[:depth] if depth_of(row) > depth else None
        if key is not None and keys and keys[-1] == key:
            groups[-1].append(index)
        else:
            groups.append([index])
            keys.append(key)
    new_index = {old: new for new, group in enumerate(groups) for old in group}
    folded = []
    for new, (group, key) in enumerate(zip(groups, keys)):
        members = [rows[i] for i in group]
        outside = []
        for member in members:
            for source in member.inputs:
                mapped = MODEL_INPUT if source == MODEL_INPUT else new_index[source]
                if mapped != new and mapped not in outside:
                    outside.append(mapped)
        if key is None:
            folded.append(replace(members[0], inputs=tuple(outside), report=replace(members[0].report, index=new)))
            continue
        name = ".".join(key)
        kind = kinds.get(name, "group")
        folded.append(
            LayerRow(
                name,
                f"{kind} ({len(members)} rows folded)",
                _sum_reports(new, kind, members),
                inputs=tuple(outside),
                path=key,
            )
        )
    return tuple(folded)


def _sum_reports(index: int, kind: str, members: list[LayerRow]) -> LayerReport:
    first, last = members[0].report, members[-1].report
    return replace(
        last,
        index=index,
        type=kind,
        args={},
        input_shape=first.input_shape,
        params=sum(m.report.params for m in members),
        trainable_params=sum(m.report.trainable_params for m in members),
        buffers=sum(m.report.buffers for m in members),
        macs=sum(m.report.macs for m in members),
        activation_bytes=sum(m.report.activation_bytes for m in members),
        geometry=None,
        diagnostics=tuple(d for m in members for d in m.report.diagnostics),
    )
