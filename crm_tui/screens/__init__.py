"""Textual screens of the app (the contacts, pipeline, inbox and reports areas)."""
