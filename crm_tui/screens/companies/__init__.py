"""Companies area: the list and the company form (screen.py), a company's detail (detail.py)."""
