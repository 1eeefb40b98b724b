"""One module per schema revision; never edit a released one, add the next."""

from __future__ import annotations
