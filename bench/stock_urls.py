from django.urls import path
from oauth2_provider.views import IntrospectTokenView, RevokeTokenView, TokenView

from bench.floor import FloorView
from helloworld.views import HelloWorldView

urlpatterns = [
    path("oauth2/token", TokenView.as_view()),
    path("oauth2/revoke", RevokeTokenView.as_view()),
    path("oauth2/introspect", IntrospectTokenView.as_view()),
    path("helloworld/", HelloWorldView.as_view()),
    path("bench/floor/", FloorView.as_view()),
]
