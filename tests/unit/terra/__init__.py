"""Unit tests of the Terra client (terra_connect/terra/)."""
