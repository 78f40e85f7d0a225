"""The token endpoint during a secret rotation: old and new both work until the grace ends."""

from datetime import timedelta

import pytest
from django.utils import timezone

from oauthgw.issuing.clients import client_secret_rotate, client_set_enabled
from oauthgw.models import Application
from tests.oauthgw.conftest import basic_authorization

pytestmark = pytest.mark.django_db

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


def test_old_and_new_secret_both_work_during_the_grace_period(post_token, make_client):
    app = make_client()
    _, new_secret = client_secret_rotate(client=app, grace=timedelta(hours=1))

    assert post_token(CLIENT_CREDENTIALS, app=app, secret=new_secret).status_code == 200
    assert post_token(CLIENT_CREDENTIALS, app=app, secret=app.raw_secret).status_code == 200


def test_the_old_secret_works_in_the_body_too_during_the_grace_period(post_token, make_client):
    app = make_client()
    client_secret_rotate(client=app, grace=timedelta(hours=1))

    response = post_token({**CLIENT_CREDENTIALS, "client_id": app.client_id, "client_secret": app.raw_secret})

    assert response.status_code == 200


def test_the_old_secret_is_refused_once_the_grace_period_is_over(post_token, make_client):
    app = make_client()
    client_secret_rotate(client=app, grace=timedelta(hours=1))
    app.refresh_from_db()
    app.previous_secret_expires = timezone.now() - timedelta(seconds=1)
    app.save(update_fields=["previous_secret_expires"])

    response = post_token(CLIENT_CREDENTIALS, app=app, secret=app.raw_secret)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_without_a_grace_period_the_old_secret_is_refused_at_once(post_token, make_client):
    app = make_client()
    _, new_secret = client_secret_rotate(client=app)

    assert post_token(CLIENT_CREDENTIALS, app=app, secret=app.raw_secret).status_code == 401
    assert post_token(CLIENT_CREDENTIALS, app=app, secret=new_secret).status_code == 200


def test_a_disabled_client_is_refused_with_its_old_secret_too(post_token, make_client):
    app = make_client()
    client_secret_rotate(client=app, grace=timedelta(hours=1))
    client_set_enabled(client=Application.objects.get(pk=app.pk), enabled=False)

    assert post_token(CLIENT_CREDENTIALS, app=app, secret=app.raw_secret).status_code == 401


def test_the_old_secret_of_one_client_does_not_authenticate_another(post_token, make_client):
    rotated, other = make_client(), make_client()
    client_secret_rotate(client=rotated, grace=timedelta(hours=1))

    response = post_token(
        CLIENT_CREDENTIALS, HTTP_AUTHORIZATION=basic_authorization(other.client_id, rotated.raw_secret)
    )

    assert response.status_code == 401
