"""Everything about external authorization servers: the HTTP client, the registry, the breaker.

``client`` is the one module that speaks HTTP to them and imports no models;
``servers`` says which server vouches for a client's resource owners; ``breaker``
keeps one of them that is down from being asked.
"""
