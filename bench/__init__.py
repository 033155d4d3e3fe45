"""Benchmarks: the product against the floor (one keep-alive HTTPS request) and a naive baseline handler."""
