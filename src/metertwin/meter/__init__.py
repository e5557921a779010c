"""The pure meter core: no sockets, no asyncio, no database, no wall clock.

Time and physical inputs are injected; the same inputs and the same clock give the same
registers, always (docs/architecture.md, principle 1).
"""
