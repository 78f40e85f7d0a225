"""Request-wide facts the authorization server needs before any other work is done."""

from oauthgw.refresh_rotation import token_request_arrival


class ArrivalTimeMiddleware:
    """Stamps when a request reached the gateway, as early as Django can.

    The refresh grant tells a concurrent duplicate from a replay by whether the
    request arrived before the rotation was answered; the earlier the stamp, the
    fewer duplicates of a burst look like replays. First in ``MIDDLEWARE``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with token_request_arrival():
            return self.get_response(request)
