"""``GET /``: what a person who opens the gateway in a browser needs to know.

Everything else the gateway serves is for programs and answers JSON, errors
included; this one page is for people: what this is and where to go next.
"""

from django.contrib.auth.decorators import login_not_required
from django.template.response import TemplateResponse
from django.urls import reverse

from oauthgw.views.read_only import read_only


@login_not_required
@read_only
def home(request):
    links = [
        (reverse("admin:index"), "Admin", "register clients, rotate secrets, revoke tokens, read the audit trail"),
        (
            reverse("oauth2_provider:oauth-server-metadata"),
            "Authorization server metadata",
            "RFC 8414: the endpoints and grants this gateway serves",
        ),
        (reverse("api-docs"), "API documentation", "the token, revocation and introspection endpoints and HelloWorld"),
        (reverse("schema"), "OpenAPI schema", "the same, as an OpenAPI 3 document"),
        (reverse("healthz"), "Health", "liveness, for load balancers"),
    ]
    context = {"links": links, "token_url": request.build_absolute_uri(reverse("oauth2_provider:token"))}
    return TemplateResponse(request, "home.html", context)
