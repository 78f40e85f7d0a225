from django.conf import settings
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

    Authentication (a Bearer or DPoP-bound token) and the scope permission are the project's DRF
    defaults; this view only says which scope it needs and which audience a JWT
    access token must name to open it.
    """

    required_scopes = ["hello"]

    @property
    def token_audience(self) -> tuple[str, ...]:
        # RFC 9068 section 4: a JWT access token meant for another API opens nothing here.
        return (settings.HELLOWORLD_AUDIENCE, *settings.HELLOWORLD_MORE_AUDIENCES)

    @extend_schema(
        operation_id="helloworld",
        responses={
            200: _HELLO,
            400: OpenApiResponse(
                description="invalid_request: the Bearer or DPoP header carries no token or a malformed one, or the "
                "token is also (or only) sent as an access_token parameter (RFC 6750 section 2, RFC 9700 section "
                "4.3.2)."
            ),
            401: OpenApiResponse(
                description="No token, or an invalid, expired or revoked one, or a JWT whose aud does not name "
                "this API (RFC 6750, RFC 9068 section 4); a DPoP-bound token sent as Bearer, or without a valid "
                "DPoP proof by its key (invalid_dpop_proof), or without the server nonce when one is required "
                "(use_dpop_nonce, with DPoP-Nonce) (RFC 9449 section 7)."
            ),
            503: OpenApiResponse(
                description="temporarily_unavailable: DPoP proofs cannot be checked for replay (Redis down); "
                "see Retry-After."
            ),
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
