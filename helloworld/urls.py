from django.urls import path

from helloworld.views import HelloWorldView

urlpatterns = [
    path("helloworld/", HelloWorldView.as_view(), name="helloworld"),
]
