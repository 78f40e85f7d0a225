from rest_framework.response import Response
from rest_framework.views import APIView


class HelloWorldView(APIView):
    """``GET /helloworld/``: who called, with which client. Needs the ``hello`` scope.

    Authentication (bearer token) and the scope permission are the project's DRF
    defaults; this view only says which scope it needs.
    """

    required_scopes = ["hello"]

    def get(self, request):
        owner = getattr(request.user, "resource_owner", None)
        return Response(
            {
                "message": "Hello, World!",
                "username": owner.subject if owner else None,
                "client_id": request.auth.application.client_id,
            }
        )
