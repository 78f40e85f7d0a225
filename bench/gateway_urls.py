from django.urls import path

from bench.floor import FloorView
from gatewayproj.urls import handler404, handler500, urlpatterns  # noqa: F401

urlpatterns = [*urlpatterns, path("bench/floor/", FloorView.as_view())]
