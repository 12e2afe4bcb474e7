"""Settings and data care, opened from the palette: roles (roles.py), importing a file (imports.py), duplicates (duplicates.py)."""
