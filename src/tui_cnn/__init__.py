"""tui-cnn: design, understand and train CNNs in the terminal."""

__version__ = "0.1.0"
