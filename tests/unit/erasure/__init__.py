"""Unit tests of erasure (terra_connect/erasure/)."""
