"""Unit tests of lifecycle events (terra_connect/lifecycle_events/)."""
