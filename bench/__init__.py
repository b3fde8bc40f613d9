"""Benchmarks: seed realistic data, drive a real uvicorn server over loopback, print figures.

`python -m bench.contacts` (or `make bench`) measures reading contact cards through GraphQL
against a hand-written Starlette endpoint running the same SQL (the floor). See DESIGN.md,
section "Benchmarks".
"""
