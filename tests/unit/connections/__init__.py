"""Unit tests of the connection registry (terra_connect/connections/)."""
