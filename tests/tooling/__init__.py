"""The build and run tools: artifact pruning, the fuzz hooks, the e2e targets, the smoke and sam-local runners."""
