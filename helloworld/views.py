from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

_HELLO = inline_serializer(
    "HelloWorld",
    {
        "message": serializers.CharField(),
        "username": serializers.CharField(allow_null=True, help_text="null for client_credentials tokens"),
        "client_id": serializers.CharField(),
    },
)


class HelloWorldView(APIView):
    """``GET /helloworld/``: who called, with which client. Needs the ``hello`` scope.

    Authentication (bearer token) and the scope permission are the project's DRF
    defaults; this view only says which scope it needs.
    """

    required_scopes = ["hello"]

    @extend_schema(
        operation_id="helloworld",
        responses={
            200: _HELLO,
            400: OpenApiResponse(description="invalid_request: the Bearer header carries no token or a malformed one."),
            401: OpenApiResponse(description="No token, or an invalid, expired or revoked one (RFC 6750)."),
            403: OpenApiResponse(description="insufficient_scope: the token lacks the hello scope."),
        },
    )
    def get(self, request):
        owner = getattr(request.user, "resource_owner", None)
        return Response(
            {
                "message": "Hello, World!",
                "username": owner.username or owner.subject if owner else None,
                "client_id": request.auth.application.client_id,
            }
        )
