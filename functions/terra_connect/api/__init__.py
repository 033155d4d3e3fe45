"""The HTTP API: Powertools Event Handler routes, problem+json errors and the Lambda entry points."""
