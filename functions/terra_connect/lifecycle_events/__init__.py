"""Lifecycle events: what changed for an app user's wearables, derived from the table's stream, onto the event bus."""
