"""Products area: the catalog list with search, and the product form (screen.py, form.py)."""
