"""Through the functions' real Lambda handlers: what a caller, Terra or the scheduler gets back, and what is stored."""
