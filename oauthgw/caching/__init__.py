"""Caching infrastructure: state all processes share, and what each may keep of it.

``shared_state`` (Redis, or the database without it), ``bearer_cache`` (the
bearer check's read of a token with its client and resource owner: from Redis
when there is one, else one joined query), ``near_cache`` (per-process copies
Redis keeps coherent), ``joined_rows`` (a row with the rows it points to, read by
a statement built once per connection) and ``redis`` (Django's Redis cache
backend, reused clients).
"""
