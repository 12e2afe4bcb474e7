"""`python -m crm_tui` runs the same command as `crm`."""

from crm_tui.cli.entry import run

run()
