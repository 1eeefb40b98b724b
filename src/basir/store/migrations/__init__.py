"""Alembic migrations of the store schema (`env.py`, `versions/`); run by `store.schema`."""

from __future__ import annotations
