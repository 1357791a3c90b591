"""tui-cnn: design, understand and train CNNs in the terminal.

``tui_cnn.init`` logs your own training loop as a run the app follows (``logging_api``). It
is imported when first asked for: ``import tui_cnn`` loads nothing else (no torch, no Textual).
"""

__version__ = "0.1.0"

__all__ = ["init", "Run", "RunRefused", "__version__"]


def __getattr__(name: str):
    if name in ("init", "Run", "RunRefused"):
        from . import logging_api

        return getattr(logging_api, name)
    raise AttributeError(f"module 'tui_cnn' has no attribute {name!r}")
