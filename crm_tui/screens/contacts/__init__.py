"""Contacts area: the list (screen.py), a contact's detail (detail.py) and the keys both share (actions.py)."""
