"""The training monitor's widgets; each renders part of a ``RunState``."""
