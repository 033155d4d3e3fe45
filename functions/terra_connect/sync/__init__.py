"""Repairing the registry from Terra's own view: one app user on demand (sync), the whole registry on a schedule."""
