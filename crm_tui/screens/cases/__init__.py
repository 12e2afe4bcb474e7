"""The Cases area: the queues and the case list (screen.py), the case detail (detail.py), their forms (forms.py)."""
