"""Erasing an app user: every Terra user of theirs disconnected at Terra, then everything stored about them gone."""
