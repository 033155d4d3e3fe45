"""Unit tests of backfills (terra_connect/backfill/)."""
