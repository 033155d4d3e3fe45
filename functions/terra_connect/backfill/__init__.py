"""Backfilling a new connection's history from Terra: which requests, paced within Terra's limits, and when done."""
