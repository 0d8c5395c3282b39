"""A FastAPI service whose every sync/async choice is deliberate and proven by a test.

Start with docs/concurrency.md: it maps each choice to its route and its proof.
"""
