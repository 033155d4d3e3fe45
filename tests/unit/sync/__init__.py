"""Unit tests of sync and reconciliation (terra_connect/sync/)."""
