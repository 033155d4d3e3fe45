"""The Lambda and AWS runtime every function shares: logs and metrics, SnapStart, AWS clients, the Terra secret."""
