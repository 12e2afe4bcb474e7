"""The fit check (tests/tui/fit.py) run inside a snapshot's app, just before its frame is taken:
one start of the app for both, and the snapshot shows the screen the check passed on. A check
that fails fails the snapshot's test (its frame is then neither compared nor updated)."""

from __future__ import annotations

from tests.tui.fit import assert_fits


def opened_and_fits(opened, screen: str | None = None):
    """A run_before: `opened`, then the checks that the screen it opened is the one named (when
    `screen` is given) and that everything in it fits."""
    async def run_before(pilot) -> None:
        await opened(pilot)
        shown = type(pilot.app.screen).__name__
        assert screen is None or shown == screen, f"{shown} is on top, not {screen}"
        assert_fits(pilot.app.screen)

    return run_before
