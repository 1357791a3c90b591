"""Built-in models, loadable by name. Each is a TOML spec shipped with the package, so it
doubles as an example of the file format."""

from __future__ import annotations

from importlib import resources

from .spec import ModelSpec
from .specfile import loads_spec

# name -> (file, one-line description)
PRESETS: dict[str, tuple[str, str]] = {
    "SimpleCNN": ("simple_cnn.toml", "the lecture's MNIST net: 2 conv blocks + Linear 3136->10"),
    "LeNet5": ("lenet5.toml", "LeCun's LeNet-5 on 28x28 digits: tanh, average pooling"),
    "VGGSmall": ("vgg_small.toml", "VGG-style CIFAR-10 net, 3x32x32: conv-bn-relu blocks"),
    "ResNet20": ("resnet20.toml", "He et al.'s CIFAR-10 ResNet-20: 3 stages of 3 residual blocks"),
    "InceptionMini": ("inception_mini.toml", "Inception-style net on 28x28 digits: 2 four-branch Concat modules"),
}
DEFAULT_PRESET = "SimpleCNN"


def preset_names() -> list[str]:
    return list(PRESETS)


def find_preset(name: str) -> str | None:
    """The preset's canonical name, matching case-insensitively (simplecnn, lenet5)."""
    folded = name.lower().replace("-", "").replace("_", "")
    for preset in PRESETS:
        if preset.lower() == folded:
            return preset
    return None


def load_preset(name: str) -> ModelSpec:
    canonical = find_preset(name)
    if canonical is None:
        raise KeyError(f"no preset named {name!r}; presets: {', '.join(PRESETS)}")
    text = resources.files(__package__).joinpath("presets", PRESETS[canonical][0]).read_text(encoding="utf-8")
    return loads_spec(text, f"preset {canonical}")


def resolve_spec(name_or_path: str) -> ModelSpec:
    """A spec file's path or a preset's name, as the command line and the app accept them."""
    from pathlib import Path

    from .specfile import SpecError, load_spec

    if Path(name_or_path).is_file():
        return load_spec(name_or_path)
    if find_preset(name_or_path) is not None:
        return load_preset(name_or_path)
    raise SpecError(f"{name_or_path}: no such spec file or preset (presets: {', '.join(PRESETS)})")
