"""Adapters: the domain's ports implemented over AWS and Terra."""
