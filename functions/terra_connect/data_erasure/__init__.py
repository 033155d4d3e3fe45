"""Erasing an app user's stored health data: every index item and every object version of theirs (the purge)."""
