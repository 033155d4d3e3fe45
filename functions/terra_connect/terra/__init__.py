"""Terra, as every function calls and reads it: the one HTTP client, its messages, and Terra's user objects."""
