"""The promises the docs make, held by tests: README, docs/security.md and the tables generated into it."""
