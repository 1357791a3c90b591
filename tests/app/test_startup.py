"""The app paints its first frame before torch is imported: torch loads lazily, off the UI's path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
