"""Unit tests: each capability's rules with in-memory ports, and each adapter against emulated AWS or Terra."""
