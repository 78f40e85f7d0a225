from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("oauthgw.urls")),
    path("", include("helloworld.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "gatewayproj.error_views.not_found"
handler500 = "gatewayproj.error_views.server_error"
