"""The unauthenticated floor: HelloWorld's DRF stack with no authentication and no permission.

Mounted only by the benchmark's URLconfs, never by the gateway's own.
"""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from helloworld.views import HelloWorldView


class FloorView(HelloWorldView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request):
        # The same body HelloWorld sends for a client_credentials token.
        return Response({"message": "Hello, World!", "username": None, "client_id": "floor"})
