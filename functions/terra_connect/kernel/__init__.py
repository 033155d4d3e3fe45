"""The shared kernel every capability uses, in plain Python: errors, the caller's identity, deadlines, redirects."""
