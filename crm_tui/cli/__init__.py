"""The `crm` command line: a thin typer layer over the services (no textual imported here)."""
