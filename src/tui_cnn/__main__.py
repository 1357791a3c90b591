"""``python -m tui_cnn`` is ``tui-cnn``: how ``tui-cnn serve`` starts the app for each browser
tab with the very interpreter (and virtualenv) that runs the server, installed script or not."""

from .cli import main

main(prog_name="tui-cnn")
