"""What the sequences list and a sequence's screen share: the permission, the stylesheet, the funnel's words."""

from __future__ import annotations

from pathlib import Path

from crm_tui.services import sequences

EDIT = "sequence.edit"
SEQUENCES_CSS = str(Path(__file__).with_name("sequences.tcss"))


def funnel_text(f: sequences.Funnel) -> str:
    return (f"enrolled {f.enrolled} · active {f.active} · sent {f.sent} · replied {f.replied} · "
            f"stopped {f.stopped} · finished {f.finished}")
