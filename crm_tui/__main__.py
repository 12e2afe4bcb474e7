"""`python -m crm_tui` runs the same command as `crm`."""

from crm_tui.cli.main import run

run()
