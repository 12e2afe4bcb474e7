"""Capturing mail: reading messages (IMAP, files, a pipe), matching them to contacts, Triage."""
