"""`? Help`, the key that lists every other key, stays in view at 80x24 on every screen:
the monitor's and Inspect's footers once cut it off."""

from __future__ import annotations

import pytest

from tests.helpers import async_wait_until
from tui_cnn.app.app import SCREENS_BY_KEY, TuiCnnApp
from tui_cnn.app.widgets.help import HelpScreen


@pytest.mark.parametrize("mode", [mode for _, mode, _ in SCREENS_BY_KEY])
@pytest.mark.slow
async def test_help_is_in_the_footer_at_80x24_and_opens_the_key_list(mode):
    app = TuiCnnApp(start_mode=mode)
    async with app.run_test(size=(80, 24)) as pilot:
        await async_wait_until(lambda: bool(app.screen.query("KeysFooter FooterKey.-help")), what="the footer's keys")
        # laid out (the footer may compose its keys again meanwhile): one pause was not always
        # enough on a loaded machine, which then read a width of 0
        await async_wait_until(
            lambda: any(key.region.width > 0 for key in app.screen.query("KeysFooter FooterKey.-help")),
            what="the footer's layout",
        )
        key = app.screen.query_one("KeysFooter FooterKey.-help")
        assert "Help" in str(key.render())
        assert key.region.width > 0 and key.region.right <= 80 and key.region.y == 23
        await pilot.click(key)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
