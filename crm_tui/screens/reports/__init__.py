"""Reports area: the reports, their drill-down and goals (screen.py)."""
