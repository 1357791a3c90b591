"""The data-flow graph of a tracked model, on plain numbers: which earlier rows each row
consumed, the receptive field and jump along that flow, the ``git log --graph`` gutter that
shows branches and merges, and the rows folded to a module depth (torchinfo's ``depth``).

Pure Python: the backend's tracer records the flow (``LayerRow.inputs``); everything that
follows from it is worked out here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from . import format as fmt
from .explain import Section
from .shapes import LayerReport, Pair, grow_receptive_field
from .summary import MODEL_INPUT, LayerRow

Flow = tuple[Pair | None, Pair | None]  # (receptive field, jump) of one row's output


def receptive_fields(rows: Sequence[LayerRow]) -> list[Flow]:
    """Receptive field and jump of every row's output on the input image, along the data flow.

    A window (geometry) grows what its input saw; a row without one passes it on while the
    spatial size stays (elementwise ops, concatenation, normalisation). Where branches merge,
    the output sees the largest receptive field of its inputs with their jump (Araujo et al.,
    "Computing Receptive Fields of Convolutional Neural Networks", 2019). An input broadcast
    from 1x1 (a squeeze-excitation gate, a global context) does not widen the per-position
    field. A flat tensor, or a spatial change with no known window (interpolate, an unknown
    module), has none: it is shown as unknown rather than guessed.
    """
    flows: list[Flow] = []
    for row in rows:
        out = row.report.output_shape
        if out is None or len(out) != 4:
            flows.append((None, None))
            continue
        (rf, jump), seen_hw = _merged(rows, row, flows)
        if rf is None or jump is None:
            flows.append((None, None))
        elif row.report.geometry is not None:
            flows.append(grow_receptive_field(rf, jump, row.report.geometry))
        elif seen_hw in (None, tuple(out[-2:])):
            flows.append((rf, jump))
        else:
            flows.append((None, None))
    return flows


def _merged(rows: Sequence[LayerRow], row: LayerRow, flows: list[Flow]) -> tuple[Flow, tuple[int, ...] | None]:
    """What the row's inputs saw: the largest field and jump among the inputs at the
    largest spatial size (and the image itself); smaller or flat ones are broadcast onto it
    (a 1x1 gate) and do not count. Also that largest size (None: the image itself)."""
    image: list[Flow] = []
    maps: list[tuple[Flow, tuple[int, ...]]] = []
    for source in row.inputs or (MODEL_INPUT,):
        if source == MODEL_INPUT:
            image.append(((1, 1), (1, 1)))
            continue
        shape = rows[source].report.output_shape
        if shape is not None and len(shape) == 4:
            maps.append((flows[source], tuple(shape[-2:])))
    largest = max((hw for _, hw in maps), key=lambda hw: hw[0] * hw[1], default=None)
    full = image + [flow for flow, hw in maps if hw == largest]
    if not full or any(rf is None or jump is None for rf, jump in full):
        return (None, None), largest  # an input of unknown extent: so is the output
    rf = (max(f[0][0] for f in full), max(f[0][1] for f in full))
    jump = (max(f[1][0] for f in full), max(f[1][1] for f in full))
    image_hw = tuple(row.report.input_shape[-2:]) if image and row.report.input_shape else None
    return (rf, jump), image_hw if image else largest


def with_receptive_fields(rows: Sequence[LayerRow]) -> tuple[LayerRow, ...]:
    flows = receptive_fields(rows)
    return tuple(replace(row, report=replace(row.report, receptive_field=rf, jump=jump))
                 for row, (rf, jump) in zip(rows, flows))


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
    last_use: dict[int, int] = {}
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


def _draw(lanes: list[int | None], column: int, branch_from: int | None, merged: list[int],
          ending: set[int]) -> str:
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
        folded.append(LayerRow(name, f"{kind} ({len(members)} rows folded)", _sum_reports(new, kind, members),
                               inputs=tuple(outside), path=key))
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
