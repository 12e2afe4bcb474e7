"""The app's own commands in the command palette (ctrl+p): the areas' commands and the tools of
crm_tui/areas.py, themes, and "go to" any contact, company or deal by name, looked up on the search
index as you type."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from crm_tui.areas import AREAS, TOOLS, Tool

if TYPE_CHECKING:
    from crm_tui.services import lookup as lookup_service

LOOKUP_LIMIT = 6


def lookup(db, text: str, now) -> list[lookup_service.Hit]:
    """The records whose names, or whose activities' subjects and notes, match `text` (runs in a thread)."""
    from crm_tui.services.start import load_orm

    load_orm()
    from crm_tui.services import lookup as lookup_service  # the palette's first search loads it

    with db.read() as session:
        return lookup_service.find(session, query=text, limit=LOOKUP_LIMIT, now=now)


class CrmCommands(Provider):
    """Commands that act on the app or on the highlighted record."""

    def _static(self) -> list[tuple[str, object, str]]:
        """(name, callback, help) of each command the person's role may use."""
        app = self.app
        if self.screen is None:
            return []
        may = getattr(app, "may", lambda _action: True)
        may_open = getattr(app, "may_open", lambda _mode: True)
        commands = [
            *((c.name, partial(self._run_on_area, area.mode, c.action), c.help, c.needs)
              for area in AREAS for c in area.commands),
            *((f"Go to {area.title}", partial(app.action_area, area.mode), f"Area {area.key}", None)
              for area in AREAS if may_open(area.mode)),
            ("Switch theme (light / dark)", app.action_toggle_theme, "ctrl+t", None),
            ("Show keys", app.action_help, "? on any screen", None),
            *((tool.name, partial(self._open_tool, tool), tool.help, tool.needs) for tool in TOOLS),
        ]
        return [(name, callback, help_text) for name, callback, help_text, need in commands
                if need is None or may(need)]

    async def _run_on_area(self, mode: str, action: str) -> None:
        """Run `action` on the screen of `mode` that can take it (the detail first, then the list)."""
        app = self.app
        app.action_area(mode)
        await asyncio.sleep(0)  # let the mode switch land
        target = app.screen
        if not hasattr(target, f"action_{action.split('(')[0]}"):
            app.notify(f"That command works from the {mode} area.", severity="warning")
            return
        await app.run_action(action, target)

    async def discover(self) -> Hits:
        for name, callback, help_text in self._static():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._static():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
        text = query.strip()
        if len(text) < 2:
            return
        app = self.app
        found = await asyncio.to_thread(lookup, app.db, text, app.now())
        for hit in found:
            score = max(matcher.match(hit.label), 0.5)
            # the palette reads a str as markup: names and their details go in as plain Content
            text = f"{hit.kind.capitalize()}: {hit.label}"
            yield Hit(score, Content(text), partial(self._open, hit.opens, hit.opens_id), text=text,
                      help=Content(hit.detail) if hit.detail else None)

    def _open_tool(self, tool: Tool) -> None:
        self.app.push_screen(tool.screen()(*tool.args))

    def _open(self, kind: str, record_id: int) -> None:
        self.app.open_record(kind, record_id, in_its_area=True)
