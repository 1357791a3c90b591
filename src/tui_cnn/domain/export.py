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
from .shapes import analyze
from .spec import LayerSpec, ModelSpec


def split_at_flatten(layers: tuple[LayerSpec, ...]) -> int:
    """Index where the classifier starts: the first Flatten, or the end when there is none."""
    for index, layer in enumerate(layers):
        if layer.type == "Flatten":
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


def export_code(spec: ModelSpec) -> str:
    """The module's source. Raises ValueError for an invalid spec: code that fails is no export."""
    analysis = analyze(spec, batch_size=1)
    if not analysis.valid:
        first = analysis.errors[0]
        raise ValueError(f"cannot export an invalid model: layer {first.layer}: {first.message}")
    cut = split_at_flatten(spec.layers)
    rows = []
    for report in analysis.layers:
        out = "(N, " + ", ".join(str(v) for v in report.output_shape[1:]) + ")"
        rows.append(f"            nn.{fmt.layer_call(report.type, report.args)},  # -> {out}")
    name = class_name(spec)
    c, h, w = spec.input_shape
    # The spec's name is user data: it reaches the code only escaped (in_string_literal), so
    # quotes, backslashes, newlines or NULs in it can neither end the docstring nor inject code.
    docstring = (f'"""{in_string_literal(spec.name)}: exported by tui-cnn {__version__}.\n\n'
                 f"Input (N, {c}, {h}, {w}) -> output {fmt.shape(('N',) + analysis.output_shape[1:])};"
                 f' {analysis.totals.params:,} parameters.\n"""')
    return "\n".join([
        docstring,
        "",
        "import torch",
        "from torch import nn",
        "",
        "",
        f"class {name}(nn.Module):",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *_sequential("features", rows[:cut]),
        *_sequential("classifier", rows[cut:]),
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
    ])
