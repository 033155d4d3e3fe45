"""Unit tests of the runtime the functions share: botocore session, Terra secret (terra_connect/platform/)."""
