"""Mail: the Triage screen (addresses of captured mail that matched no contact)."""
