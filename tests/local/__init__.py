"""Local mode: the gateway, the whole stack on this machine, and the Terra simulator's contract."""
