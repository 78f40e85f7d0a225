"""Caching infrastructure: state all processes share, and what each may keep of it.

``shared_state`` (Redis, or the database without it), ``bearer_cache`` (validated
access tokens, with Redis only), ``near_cache`` (per-process copies Redis keeps
coherent) and ``redis`` (Django's Redis cache backend, reused clients).
"""
