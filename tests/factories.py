"""Rows for tests, built with factory_boy. A client's raw secret is kept on ``.raw_secret``."""

import factory
from oauth2_provider.generators import generate_client_secret

from oauthgw.models import Application


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"client-{n}")
    enabled = True
    grant_types = "password refresh_token client_credentials"
    allowed_scopes = "hello"
    default_scopes = "hello"
    raw_secret = factory.LazyFunction(generate_client_secret)
    client_secret = factory.SelfAttribute("raw_secret")

    @classmethod
    def _create(cls, model_class, *args, raw_secret, **kwargs):
        client = super()._create(model_class, *args, **kwargs)
        client.raw_secret = raw_secret
        return client
