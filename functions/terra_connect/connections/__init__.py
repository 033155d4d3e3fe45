"""The connection registry: which Terra users each app user owns, merged from every fact, and the caller's view."""
