"""Resource admission: pools with a capacity, requests fitted all-or-nothing (roadmap 4).

`fitting` holds the pure decisions, `capacity` finds what this machine offers, `allocator`
keeps the engine's in-memory account of who holds what.
"""
