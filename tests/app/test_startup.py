"""The app paints its first frame before torch is imported: torch loads lazily, off the UI's path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each test starts the app in a child process

FIRST_PAINT = textwrap.dedent("""
    import asyncio, sys
    from tui_cnn.app.app import TuiCnnApp

    async def main():
        app = TuiCnnApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert "SimpleCNN" in app.screen.sub_title
            print("torch" in sys.modules)

    asyncio.run(main())
""")


def test_the_first_frame_is_painted_without_torch():
    result = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


MONITOR_SHOWN = textwrap.dedent("""
    import asyncio, sys
    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.app.widgets.monitor.setup_form import RunSetupForm

    async def main():
        app = TuiCnnApp(start_mode="monitor")
        async with app.run_test(size=(120, 40)) as pilot:
            form = app.screen.query_one(RunSetupForm)
            for _ in range(200):  # the device is described in a worker: wait for its answer
                await pilot.pause(0.05)
                if "free on" in str(form.query_one("#memory-note").render()):
                    break
            print("described:", "free on" in str(form.query_one("#memory-note").render()))
            print("torch:", "torch" in sys.modules)

    asyncio.run(main())
""")


def test_showing_the_monitor_describes_the_device_without_torch():
    """The device panel and the form's free memory come from NVML and the OS: the app never
    loads torch (539 MiB) nor opens a CUDA context to describe a device."""
    result = subprocess.run([sys.executable, "-c", MONITOR_SHOWN], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["described:", "True", "torch:", "False"]


@pytest.mark.parametrize("width, expected", [(80, "-narrow"), (160, "-wide")])
async def test_the_first_screen_is_styled_once_at_its_width(width, expected):
    """The tracker is the app's first screen and has its width class when it is made: no
    blank default screen switched away from, and no second styling of every widget on its
    first resize (the two cost ~30 ms of the launch). Counted, not timed."""
    from textual.css.stylesheet import Stylesheet

    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.app.screens.tracker import TrackerScreen

    styled: list[str] = []
    apply = Stylesheet.apply

    def counting_apply(self, node, *args, **kwargs):
        styled.append(type(node).__name__)
        return apply(self, node, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Stylesheet, "apply", counting_apply)
        app = TuiCnnApp()
        async with app.run_test(size=(width, 30)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, TrackerScreen) and screen.has_class(expected)
            assert [s.id for s in app.screen_stack] == [screen.id]
            layer_tables = styled.count("LayerTable")
    # styled on mount, on the screen's resume, and when it takes the focus; before, twice more
    assert 1 <= layer_tables <= 3, styled
