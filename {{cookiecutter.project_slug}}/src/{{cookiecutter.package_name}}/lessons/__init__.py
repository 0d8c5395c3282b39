"""The classroom: every /lesson route, the anti-patterns, and the process pool only they use.

The app factory mounts the lessons' router (router.py) while ENABLE_LESSONS is on
(development), the anti-patterns only with ENABLE_ANTIPATTERNS as well. The service never
imports from here. This file imports nothing on purpose: Python runs it before any module
of the package, and the CPU pool's fork server imports two of them (process_pool.py says why).
"""
