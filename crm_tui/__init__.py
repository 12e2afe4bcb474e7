"""crm-tui: a keyboard-first CRM for small sales teams that runs in a terminal."""

__version__ = "0.1.0"
