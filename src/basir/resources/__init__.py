"""Resource admission: pools with a capacity, requests fitted all-or-nothing (roadmap 4).

`fitting` holds the pure decisions, `capacity` finds what this machine offers, `allocator`
keeps the engine's in-memory account of who holds what.  Who may use what, when:
`windows` (when a reservation holds, DST included), `reservations` (checks, over-commitment,
what others may not take), `quotas` (namespace limits and policies) — all pure — and
`policy_store` (reservations and quotas kept in the store).
"""
