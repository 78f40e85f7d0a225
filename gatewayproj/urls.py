from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from oauthgw.views import health, metrics
from oauthgw.views.home import home

urlpatterns = [
    # The one page for people; every other path answers programs (and JSON 404s).
    path("", home, name="home"),
    path("", include("oauthgw.urls")),
    path("", include("helloworld.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Only GET: its HTML renderer has no template for OPTIONS metadata (a 500).
    # The split view serves Swagger UI's start-up script as a file (?script), so
    # the page needs no inline script (oauthgw.middleware.ContentSecurityPolicyMiddleware).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
]

handler400 = "oauthgw.views.errors.bad_request"
handler403 = "oauthgw.views.errors.permission_denied"
handler404 = "oauthgw.views.errors.not_found"
handler500 = "oauthgw.views.errors.server_error"
