"""Unit tests of the shared kernel (terra_connect/kernel/)."""
