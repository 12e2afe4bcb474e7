"""The areas whose own screens come with later work: Pipeline, Inbox and Reports. Each says what
it will hold and how to get there today from the command line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from crm_tui.screens.base import AreaScreen


class _Placeholder(AreaScreen):
    MESSAGE = ""

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static(self.MESSAGE, classes="placeholder")
        yield from self.compose_frame_bottom()


class PipelineScreen(_Placeholder):
    AREA = "pipeline"
    MESSAGE = ("The deal pipeline board is on its way.\n\n"
               "Today: `crm deal list`, `crm deal move DEAL STAGE`, `crm deal won DEAL`.")


class InboxScreen(_Placeholder):
    AREA = "inbox"
    MESSAGE = ("The reminders inbox is on its way. The number beside Inbox above counts your "
               "overdue and due-today tasks.\n\nToday: `crm task list --status overdue`, `crm task done ID`, "
               "`crm task snooze ID +2d`.")


class ReportsScreen(_Placeholder):
    AREA = "reports"
    MESSAGE = "Reports (pipeline, forecast, win rate, activity, sources) are on their way."
