"""Terra's mobile SDK (Apple Health, Samsung Health, Health Connect): tokens issued, and the binding they prove."""
