"""End-to-end suite: black-box over HTTP(S) against make dev's stack or a deployed one (make e2e)."""
