"""Basir L3: the execution layer."""
