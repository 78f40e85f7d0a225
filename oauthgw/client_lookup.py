"""Loading the client of a request (filled in by the near-cache work)."""


class ClientLookupMixin:
    pass
