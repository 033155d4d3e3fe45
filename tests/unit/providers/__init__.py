"""Unit tests of the providers enabled for the Terra account (terra_connect/providers/)."""
