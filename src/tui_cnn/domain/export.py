"""A spec as readable, runnable PyTorch code: an nn.Module with ``features`` (everything
before the first Flatten) and ``classifier`` (the Flatten and after), as the lecture writes
SimpleCNN. The backend builds models with the same two parts, so checkpoints saved by
``tui-cnn train`` load into the exported class unchanged."""

from __future__ import annotations

import keyword
import re
import unicodedata

from .. import __version__
from . import format as fmt
from .layers import layer_type
from .shapes import LayerReport, analyze
from .spec import LayerSpec, ModelSpec

#: The blocks' modules in model.py: the backend's (backend/build.py) with the same attribute
#: names, so a run's checkpoints load. Written only into files whose model has such blocks.
_BLOCK_CLASSES = {
    "Residual": [
        "class Residual(nn.Module):",
        '    """body(x) + shortcut(x); an empty shortcut is the identity."""',
        "",
        "    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:",
        "        super().__init__()",
        "        self.body = body",
        "        self.shortcut = shortcut if shortcut is not None else nn.Sequential()",
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        "        return self.body(x) + self.shortcut(x)",
    ],
    "Concat": [
        "class Concat(nn.Module):",
        '    """cat([branch(x) for branch in branches], dim=1): the branches\' channels side by side."""',
        "",
        "    def __init__(self, *branches: nn.Module) -> None:",
        "        super().__init__()",
        "        self.branches = nn.ModuleList(branches)",
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        "        return torch.cat([branch(x) for branch in self.branches], dim=1)",
    ],
}


def split_at_flatten(layers: tuple[LayerSpec, ...]) -> int:
    """Index where the classifier starts: the first Flatten, or the end when there is none."""
    for index, layer in enumerate(layers):
        if layer_type(layer.type).flattens:
            return index
    return len(layers)


def class_name(spec: ModelSpec) -> str:
    """The spec's name as a Python class name: ASCII letters and digits only (accents dropped
    from their letters, so ``Ünïcödé`` is ``Unicode``), never a keyword (``none`` would become
    ``None``) and never starting with a digit, so any name gives a file that imports."""
    plain = unicodedata.normalize("NFKD", spec.name).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[A-Za-z0-9]+", plain) or ["Model"]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    return f"Model{name}" if not name[0].isalpha() or keyword.iskeyword(name) else name


def in_string_literal(text: str) -> str:
    """``text`` escaped for the inside of a triple-quoted string: backslashes and quotes escaped,
    and every character that is not printable (newlines, NUL, bidi controls, surrogates)
    written as its escape, so the text can never end the string and reads back unchanged."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])  # "\\n", "\\x00", "\\u202e"
    return "".join(out)


def _sequential(attribute: str, lines: list[str]) -> list[str]:
    if not lines:
        return [f"        self.{attribute} = nn.Sequential()"]
    return [f"        self.{attribute} = nn.Sequential(", *lines, "        )"]


def _out(report: LayerReport) -> str:
    assert report.output_shape is not None  # only a valid model is exported: every output is known
    return "(N, " + ", ".join(str(v) for v in report.output_shape[1:]) + ")"


def _layer_lines(report: LayerReport, indent: str) -> list[str]:
    """A layer's lines in an nn.Sequential, with the shape engine's output shape as a comment;
    a block's paths each an nn.Sequential of their own, indented one level further."""
    if not report.is_block:
        return [f"{indent}nn.{fmt.layer_call(report.type, report.args)},  # -> {_out(report)}"]
    inner = indent + "    "
    lines = [f"{indent}{report.type}("]
    names = ("body=", "shortcut=") if report.type == "Residual" else ("",) * len(report.branches)
    for keyword_, branch in zip(names, report.branches):
        if not branch:
            lines.append(f"{inner}{keyword_}nn.Sequential(),  # the identity")
            continue
        lines.append(f"{inner}{keyword_}nn.Sequential(")
        lines.extend(line for r in branch for line in _layer_lines(r, inner + "    "))
        lines.append(f"{inner}),")
    merge = "body + shortcut" if report.type == "Residual" else "channels concatenated"
    lines.append(f"{indent}),  # {merge} -> {_out(report)}")
    return lines


def _block_types(reports: tuple[LayerReport, ...] | list[LayerReport]) -> set[str]:
    found: set[str] = set()
    for report in reports:
        if report.is_block:
            found.add(report.type)
            for branch in report.branches:
                found |= _block_types(branch)
    return found


def export_code(spec: ModelSpec) -> str:
    """The module's source. Raises ValueError for an invalid spec: code that fails is no export."""
    analysis = analyze(spec, batch_size=1)
    if not analysis.valid:
        first = analysis.errors[0]
        raise ValueError(f"cannot export an invalid model: layer {first.layer}: {first.message}")
    cut = split_at_flatten(spec.layers)
    rows = [_layer_lines(report, "            ") for report in analysis.layers]
    used = _block_types(analysis.layers)
    blocks = [line for kind in _BLOCK_CLASSES if kind in used for line in (*_BLOCK_CLASSES[kind], "", "")]
    name = class_name(spec)
    c, h, w = spec.input_shape
    output_shape = analysis.output_shape
    assert output_shape is not None  # a valid model's output is known
    # The spec's name is user data: it reaches the code only escaped (in_string_literal), so
    # quotes, backslashes, newlines or NULs in it can neither end the docstring nor inject code.
    docstring = (
        f'"""{in_string_literal(spec.name)}: exported by tui-cnn {__version__}.\n\n'
        f"Input (N, {c}, {h}, {w}) -> output {fmt.shape(('N',) + output_shape[1:])};"
        f' {analysis.totals.params:,} parameters.\n"""'
    )
    return "\n".join(
        [
            docstring,
            "",
            "import torch",
            "from torch import nn",
            "",
            "",
            *blocks,
            f"class {name}(nn.Module):",
            "    def __init__(self) -> None:",
            "        super().__init__()",
            *_sequential("features", [line for lines in rows[:cut] for line in lines]),
            *_sequential("classifier", [line for lines in rows[cut:] for line in lines]),
            "",
            "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
            "        return self.classifier(self.features(x))",
            "",
            "",
            f"INPUT_SHAPE = ({c}, {h}, {w})",
            "",
            "",
            "def build_model() -> nn.Module:",
            f"    return {name}()",
            "",
            "",
            'if __name__ == "__main__":',
            "    model = build_model()",
            "    print(model)",
            "    print(model(torch.randn(1, *INPUT_SHAPE)).shape)",
            "",
        ]
    )
