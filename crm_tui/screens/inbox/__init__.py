"""Inbox area: the person's tasks and what is due (screen.py)."""
