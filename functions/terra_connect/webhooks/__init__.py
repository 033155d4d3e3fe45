"""Terra's signed webhooks: authenticated, dated, read in every published shape, and applied to the registry once."""
