"""Skip connections in the builder, driven by keys: wrap layers in a residual or concat block,
add a projection shortcut or a branch, unwrap, undo every step; and ResNet-20 built from a
blank model by keys alone."""

from __future__ import annotations

import pytest

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.builder import BuilderScreen
from tui_cnn.app.widgets.builder.stack import StackTable
from tui_cnn.domain import load_preset
from tui_cnn.domain.layers import LAYER_TYPES
from tui_cnn.domain.shapes import analyze, report_at
from tui_cnn.domain.spec import LayerSpec, ModelSpec

SIZE = (80, 24)
L = LayerSpec.of


def builder(app: TuiCnnApp) -> BuilderScreen:
    return app.get_screen_stack("builder")[0]


def stack(app: TuiCnnApp) -> StackTable:
    return builder(app).query_one(StackTable)


def row_text(app: TuiCnnApp, row: int) -> str:
    return " ".join(str(cell) for cell in stack(app).get_row_at(row))


async def go_to(pilot, path: tuple[int, ...]) -> None:
    """Arrow keys until the cursor is on the layer at ``path``, as a person looks and moves."""
    table = stack(pilot.app)
    table.focus()
    target = next(row for row, entry in enumerate(table.entries) if entry.kind == "layer" and entry.path == path)
    key = "down" if target > table.cursor_row else "up"
    await pilot.press(*[key] * abs(target - table.cursor_row))
    assert table.layer_path == path


async def set_fields(pilot, **values: str) -> None:
    """Enter the form of the cursor's layer, tab to each field, type its value, back to the stack."""
    type_name = stack(pilot.app).entries[stack(pilot.app).cursor_row]
    layer = pilot.app.spec.layer_at(type_name.path)
    editable = [f.name for f in LAYER_TYPES[layer.type].fields if not f.inferred]
    for name, text in values.items():
        await pilot.press("enter", *["tab"] * editable.index(name), *text)
        await pilot.pause()
        await pilot.press("escape")
    await pilot.pause()


async def conv(pilot, channels: int, stride: int = 1) -> None:
    await pilot.press("c")
    await set_fields(
        pilot, out_channels=str(channels), **({"stride": str(stride)} if stride != 1 else {}), bias="false"
    )


async def basic_block(pilot, channels: int, stride: int = 1, project: bool = False) -> int:
    """conv-bn-relu-conv-bn after the cursor, wrapped in a Residual (s: a projection shortcut
    where the shape changes), then the ReLU after the add. Returns the block's index."""
    start = stack(pilot.app).layer_path[0] + 1
    await conv(pilot, channels, stride)
    await pilot.press("b", "r")
    await conv(pilot, channels)
    await pilot.press("b")
    await go_to(pilot, (start,))
    await pilot.press("m")
    await go_to(pilot, (start + 4,))
    await pilot.press("w")
    assert pilot.app.spec.layers[start].type == "Residual"
    if project:
        await pilot.press("s")  # the 1x1 conv + BatchNorm projection onto the body's shape
        await go_to(pilot, (start,))
    await pilot.press("r")
    return start


async def repeat_block(pilot, block: int) -> int:
    """A copy of the block after it (D), and a ReLU between the two. Returns the copy's index."""
    await go_to(pilot, (block,))
    await pilot.press("D")
    await go_to(pilot, (block,))
    await pilot.press("r")
    return block + 2


@pytest.mark.slow  # some 500 keys: long under load, though nothing trains
@pytest.mark.heavy  # minutes on 2 cores; the wrap/shortcut/repeat keys it uses are each tested in the default run
@pytest.mark.timeout(600)
async def test_resnet20_is_built_from_a_blank_model_by_keys_alone():
    app = TuiCnnApp(start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "enter")  # blank
        await pilot.press("i", *"3, 32, 32", "escape")
        await pilot.press("home", "enter", *"ResNet20", "escape", "home")
        await conv(pilot, 16)
        await pilot.press("b", "r")
        for channels, stride in ((16, 1), (32, 2), (64, 2)):
            await go_to(pilot, (len(app.spec.layers) - 1,))
            first = await basic_block(pilot, channels, stride, project=stride != 1)
            if stride == 1:
                await repeat_block(pilot, await repeat_block(pilot, first))
            else:
                await repeat_block(pilot, await basic_block(pilot, channels))
        await go_to(pilot, (len(app.spec.layers) - 1,))
        await pilot.press("a", "down", "down", "down", "enter", "f", "l")  # AdaptiveAvgPool2d, Flatten, Linear
        await pilot.pause()
        assert app.spec.input_shape == (3, 32, 32) and app.spec.name == "ResNet20"
        assert app.spec.layers == load_preset("ResNet20").layers, analyze(app.spec).errors
        assert analyze(app.spec).totals.params == 272_474


@pytest.mark.slow
async def test_wrap_shortcut_branch_unwrap_each_one_undo_step_and_the_stack_shows_the_merge():
    spec = ModelSpec(
        "m", (8, 16, 16), (L("Conv2d", out_channels=16, kernel_size=3, stride=2, padding=1), L("ReLU"), L("Flatten"))
    )
    app = TuiCnnApp(spec, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        history = [app.spec]
        await go_to(pilot, (0,))
        await pilot.press("m", "down", "w")  # the conv and the ReLU in a residual block
        history.append(app.spec)
        block = app.spec.layers[0]
        assert block.type == "Residual" and [layer.type for layer in block.args["body"]] == ["Conv2d", "ReLU"]
        assert "Residual cannot add" in str(builder(app).query_one("#problems").render())
        rows = [row_text(app, row) for row in range(stack(app).row_count)]
        assert "Residual: body + identity" in rows[1]
        assert "(N, 16, 8, 8)" in rows[2] and "├ body" in rows[2]  # what each path brings to the merge
        assert "(N, 8, 16, 16)" in rows[5] and "├ shortcut: identity" in rows[5]
        await pilot.press("s")  # the projection shortcut: the add now works
        history.append(app.spec)
        assert analyze(app.spec).valid
        assert app.spec.layers[0].args["shortcut"][0] == L(
            "Conv2d", out_channels=16, kernel_size=1, stride=2, bias=False
        )
        await go_to(pilot, (0, 0, 1))
        await pilot.press("r")  # a layer added inside the body
        history.append(app.spec)
        assert [layer.type for layer in app.spec.layers[0].args["body"]] == ["Conv2d", "ReLU", "ReLU"]
        await go_to(pilot, (0, 0, 2))
        await pilot.press("W")  # the inner ReLU in a concat block, nested in the body
        history.append(app.spec)
        await pilot.press("B")  # a second branch: the identity
        history.append(app.spec)
        assert app.spec.layer_at((0, 0, 2)).args["branches"] == ((L("ReLU"),), ())
        assert report_at(analyze(app.spec).layers, (0, 0, 2)).output_shape == (64, 32, 8, 8)  # 16 + 16 channels
        await pilot.press("c")  # on the new branch's row: the conv goes into it, keeping the channels
        history.append(app.spec)
        assert app.spec.layer_at((0, 0, 2, 1, 0)) == L("Conv2d", out_channels=16, kernel_size=3, padding=1)
        await go_to(pilot, (0,))
        await pilot.press("u")  # unwrap the residual: its body's layers in its place
        history.append(app.spec)
        assert [layer.type for layer in app.spec.layers] == ["Conv2d", "ReLU", "Concat", "Flatten"]
        for expected in reversed(history[:-1]):
            await pilot.press("ctrl+z")
            assert app.spec == expected
        for expected in history[1:]:
            await pilot.press("ctrl+y")
            assert app.spec == expected


@pytest.mark.slow
async def test_a_preset_with_blocks_opens_in_the_builder_and_a_layer_inside_is_edited_in_the_form():
    app = TuiCnnApp(load_preset("InceptionMini"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await go_to(pilot, (3, 1, 2))  # the 3x3 conv of the second branch
        await set_fields(pilot, out_channels="8")
        assert app.spec.layer_at((3, 1, 2)).args["out_channels"] == 8
        assert analyze(app.spec).layers[3].output_shape == (64, 24, 14, 14)


@pytest.mark.slow  # a hundred keys, each re-analysing and repainting a model of 40 rows
@pytest.mark.timeout(600)
@pytest.mark.heavy  # the block keys are each tested, with undo, in the default run
@pytest.mark.parametrize("seed", [0, 1])
async def test_random_block_commands_on_a_branched_model_never_crash_and_undo_all_the_way(seed):
    import random

    rng = random.Random(seed)
    keys = [
        "up",
        "down",
        "down",
        "m",
        "w",
        "W",
        "s",
        "B",
        "u",
        "delete",
        "D",
        "shift+up",
        "shift+down",
        "c",
        "r",
        "k",
        "ctrl+f",
        "ctrl+z",
        "ctrl+y",
        "home",
        "end",
    ]
    start = load_preset("InceptionMini")
    app = TuiCnnApp(start, start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await pilot.press(rng.choice(keys))
        analyze(app.spec)  # whatever the keys made still analyses
        await pilot.press(*["ctrl+z"] * 55)
        assert app.spec == start
