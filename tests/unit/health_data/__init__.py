"""Unit tests of keeping health data (terra_connect/health_data/)."""
