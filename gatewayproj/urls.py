from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from gatewayproj.home import home

urlpatterns = [
    # The one page for people; every other path answers programs (and JSON 404s).
    path("", home, name="home"),
    path("", include("oauthgw.urls")),
    path("", include("helloworld.urls")),
    path("admin/", admin.site.urls),
    path("", include("gatewayproj.observability.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Only GET: its HTML renderer has no template for OPTIONS metadata (a 500).
    # The split view serves Swagger UI's start-up script as a file (?script), so
    # the page needs no inline script (gatewayproj/content_security_policy.py).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
]

handler400 = "gatewayproj.error_views.bad_request"
handler403 = "gatewayproj.error_views.permission_denied"
handler404 = "gatewayproj.error_views.not_found"
handler500 = "gatewayproj.error_views.server_error"
