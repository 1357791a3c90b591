"""The exported model.py, imported and run by torch, is the model the shape engine describes."""

import importlib.util

import pytest
import torch
from click.testing import CliRunner

from tui_cnn.backend.build import build_model
from tui_cnn.cli import main
from tui_cnn.domain import load_preset
from tui_cnn.domain.export import export_code
from tui_cnn.domain.layers import LAYER_TYPES
from tui_cnn.domain.shapes import analyze
from tui_cnn.domain.spec import LayerSpec, ModelSpec
from tui_cnn.domain.specfile import save_spec
from tui_cnn.domain.starters import starter_layer

pytestmark = pytest.mark.torch  # runs torch: outside the quick domain tier (-m "not torch")

ODD_ARGUMENTS = ModelSpec(
    "odd args 2",
    (3, 17, 23),
    (
        LayerSpec.of("Conv2d", out_channels=8, kernel_size=(3, 5), padding="same", bias=False),
        LayerSpec.of("BatchNorm2d", momentum=0.2),
        LayerSpec.of("LeakyReLU", negative_slope=0.1),
        LayerSpec.of("MaxPool2d", kernel_size=3, stride=2, ceil_mode=True),
        LayerSpec.of("AdaptiveAvgPool2d", output_size=(2, None)),
        LayerSpec.of("Flatten"),
        LayerSpec.of("Dropout", p=0.25),
        LayerSpec.of("Linear", out_features=5),
    ),
)


def import_module(path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def around(type_name: str) -> ModelSpec:
    """A model with a new layer of ``type_name`` (as the builder adds it) before the classifier:
    export writes every catalogued type the same way, so each must come out right."""
    empty = ModelSpec(f"with {type_name}", (3, 8, 8))
    return empty.with_layers(
        [starter_layer(type_name, empty, 0), LayerSpec("Flatten"), LayerSpec.of("Linear", out_features=10)]
    )


@pytest.mark.parametrize(
    "spec",
    [
        load_preset("SimpleCNN"),
        load_preset("LeNet5"),
        load_preset("VGGSmall"),
        ODD_ARGUMENTS,
        *map(around, LAYER_TYPES),
    ],
    ids=lambda spec: spec.name,
)
def test_exported_model_runs_with_the_shapes_and_parameters_of_the_shape_engine(spec, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(export_code(spec))
    module = import_module(path)
    model = module.build_model().eval()
    analysis = analyze(spec, batch_size=2)
    with torch.no_grad():
        output = model(torch.randn(2, *module.INPUT_SHAPE))
    assert tuple(output.shape) == analysis.output_shape
    assert sum(p.numel() for p in model.parameters()) == analysis.totals.params
    # Checkpoints from the training backend load into the exported class.
    assert model.state_dict().keys() == build_model(spec).state_dict().keys()


def test_export_refuses_an_invalid_model(simple_cnn):
    with pytest.raises(ValueError, match="layer 0"):
        export_code(simple_cnn.replace_layer(0, simple_cnn.layers[0].with_arg("kernel_size", 31)))


# --- tui-cnn export ---


def test_cli_writes_a_model_file(tmp_path):
    target = tmp_path / "model.py"
    result = CliRunner().invoke(main, ["export", "SimpleCNN", "--to", str(target)])
    assert result.exit_code == 0, result.output
    assert "class SimpleCNN(nn.Module)" in target.read_text()
    assert "50,186 parameters" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]  # no temporary file left behind


def test_cli_exports_a_spec_file_to_stdout(tmp_path, simple_cnn):
    path = tmp_path / "mine.toml"
    save_spec(simple_cnn, path)
    result = CliRunner().invoke(main, ["export", str(path)])
    assert result.exit_code == 0
    assert result.output == export_code(simple_cnn)


def test_cli_says_why_an_invalid_model_is_not_exported(tmp_path):
    target = tmp_path / "model.py"
    result = CliRunner().invoke(main, ["export", "SimpleCNN", "--input", "1,2,2", "--to", str(target)])
    assert result.exit_code == 1
    assert "layer 5 kernel_size" in result.output and "fix:" in result.output
    assert not target.exists()


@pytest.mark.parametrize(
    "args", [["nope"], ["SimpleCNN", "--to", "/no/such/dir/model.py"], ["SimpleCNN", "--input", "1,x"]]
)
def test_cli_exits_2_for_bad_input(args):
    result = CliRunner().invoke(main, ["export", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# Names a user (or a hostile file) can give a model. Each must give a file that imports, runs
# nothing of the name, and builds the model. The first ones would write a marker file if the
# name ever reached the code unescaped.
HOSTILE_NAMES = [
    'x"""\nimport pathlib; pathlib.Path(MARKER).write_text("pwned")\n"""',
    "x'''\nimport pathlib; pathlib.Path(MARKER).write_text('pwned')\n'''",
    'x\\"""; import pathlib; pathlib.Path(MARKER).write_text("pwned") #',
    "none",
    "None",
    "True",
    "false",
    "class",
    "9lives",
    "a\\N b",
    "nul\x00byte",
    "émoji 🧠 ünïcode",
    "",
    "   ",
    "\\",
    '"',
    "'",
    "\n\n",
    "\udcff surrogate",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_a_hostile_model_name_gives_a_file_that_imports_and_runs_nothing(name, tmp_path):
    marker = tmp_path / "pwned"
    name = name.replace("MARKER", repr(str(marker)))
    spec = ModelSpec(name, (1, 8, 8), (LayerSpec.of("Flatten"), LayerSpec.of("Linear", out_features=3)))
    path = tmp_path / "model.py"
    path.write_text(export_code(spec), encoding="utf-8")
    module = import_module(path)
    assert not marker.exists(), "the model's name ran as code"
    assert module.build_model()(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    assert module.__doc__.startswith(f"{name}: exported by tui-cnn")  # the name kept as it was


def test_a_non_finite_float_argument_is_written_as_a_float_not_a_name():
    from tui_cnn.domain.format import layer_call

    assert layer_call("LeakyReLU", {"negative_slope": float("nan")}) == "LeakyReLU(negative_slope=float('nan'))"
    assert eval(layer_call("LeakyReLU", {"negative_slope": float("inf")}).split("=")[1][:-1]) == float("inf")


# --- branched models: Residual and Concat blocks ---

import re  # noqa: E402

from tui_cnn.domain.shapes import flat_reports  # noqa: E402
from tui_cnn.domain.spec import concat, residual  # noqa: E402

L = LayerSpec.of
BRANCHED = ModelSpec(
    "branched 'x'",
    (3, 16, 16),
    (
        residual(
            [L("Conv2d", out_channels=8, kernel_size=3, stride=2, padding=1, bias=False), L("BatchNorm2d"), L("ReLU")],
            (L("Conv2d", out_channels=8, kernel_size=1, stride=2, bias=False), L("BatchNorm2d")),
        ),
        concat(
            [L("Conv2d", out_channels=4, kernel_size=1)],
            [residual([L("Conv2d", out_channels=8, kernel_size=3, padding=1)]), L("ReLU")],
            [],
        ),
        L("Flatten"),
        residual([L("Linear", out_features=20 * 8 * 8), L("ReLU")]),
        L("Linear", out_features=10),
    ),
)


@pytest.mark.parametrize(
    "spec", [BRANCHED, load_preset("ResNet20"), load_preset("InceptionMini")], ids=lambda spec: spec.name
)
def test_an_exported_branched_model_adds_and_concatenates_as_the_engine_says_and_loads_the_built_weights(
    spec, tmp_path
):
    path = tmp_path / "model.py"
    code = export_code(spec)
    path.write_text(code)
    module = import_module(path)
    exported, built = module.build_model().eval(), build_model(spec).eval()
    exported.load_state_dict(built.state_dict())  # a run's checkpoint: same keys, same shapes
    analysis = analyze(spec, batch_size=2)
    x = torch.randn(2, *module.INPUT_SHAPE)
    with torch.no_grad():
        assert torch.equal(exported(x), built(x))
    assert tuple(exported(x).shape) == analysis.output_shape
    assert sum(p.numel() for p in exported.parameters()) == analysis.totals.params
    # Every module's output, as torch computes it, is the shape its comment in model.py says.
    seen = {}

    def record(name):
        def hook(module_, inputs, output):
            seen.setdefault(name, tuple(output.shape))

        return hook

    for name, module_ in exported.named_modules():
        module_.register_forward_hook(record(name))
    with torch.no_grad():
        exported(x)
    cut = next((i for i, layer in enumerate(spec.layers) if layer.type == "Flatten"), len(spec.layers))
    engine = {}
    for row in flat_reports(analysis.layers):
        top, _, rest = row.name.partition(".")
        part = f"features.{top}" if int(top) < cut else f"classifier.{int(top) - cut}"
        engine[f"{part}.{rest}".rstrip(".")] = row.report.output_shape
    assert {name: seen[name] for name in engine} == engine
    comments = [tuple(int(v) for v in m.split(", ")) for m in re.findall(r"# .*-> \(N, ([\d, ]+)\)", code)]
    assert sorted(comments) == sorted(shape[1:] for shape in engine.values())


def test_the_file_starts_with_a_docstring_a_person_reads():
    """It started with a repr()'d string, its line breaks written as \\n."""
    code = export_code(load_preset("SimpleCNN"))
    assert code.startswith('"""SimpleCNN: exported by tui-cnn')
    assert code.splitlines()[2] == "Input (N, 1, 28, 28) -> output (N, 10); 50,186 parameters."


@pytest.mark.parametrize("name", HOSTILE_NAMES + ["bidi \u202e and line\u2028separator"], ids=repr)
def test_a_hostile_name_reads_back_unchanged_from_the_docstring(name):
    import ast

    spec = ModelSpec(name, (1, 8, 8), (LayerSpec.of("Flatten"), LayerSpec.of("Linear", out_features=3)))
    tree = ast.parse(export_code(spec))
    assert ast.get_docstring(tree, clean=False).startswith(f"{name}: exported by tui-cnn")
    assert [type(node).__name__ for node in tree.body[:3]] == ["Expr", "Import", "ImportFrom"]  # nothing injected


@pytest.mark.parametrize(
    "name, expected", [("Ünïcödé", "Unicode"), ("café net", "CafeNet"), ("ﬁne", "Fine"), ("日本", "Model")]
)
def test_accented_letters_keep_their_letter_in_the_class_name(name, expected):
    from tui_cnn.domain.export import class_name

    assert class_name(ModelSpec(name, (1, 8, 8), ())) == expected
