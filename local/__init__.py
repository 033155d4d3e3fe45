"""Running the product without AWS or Terra: a Terra simulator, emulated AWS services and the smoke run."""
