"""Keeping the health data Terra delivers: reading its payloads, keying and ordering its records, reading them back."""
