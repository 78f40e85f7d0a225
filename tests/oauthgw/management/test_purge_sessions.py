"""purge_sessions: the sessions whose family ended go, with the upstream tokens kept for them."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.models import DPoPBinding, UpstreamSession
from tests.support.dpop import DPoPKey

pytestmark = pytest.mark.django_db


def test_ended_sessions_go_and_live_ones_stay(password_login, make_client):
    app = make_client()
    password_login(app)
    password_login(app)
    ended = UpstreamSession.objects.order_by("pk").first()
    # Ended by a path that leaves its session behind (a revocation at the RFC 7009 endpoint, a replay).
    get_refresh_token_model().revoke_family(ended.family)
    out = StringIO()

    call_command("purge_sessions", stdout=out)

    assert out.getvalue().strip().startswith("Deleted 1 ended sessions,")
    assert list(UpstreamSession.objects.values_list("pk", flat=True)) != [ended.pk]
    assert UpstreamSession.objects.count() == 1


def test_dpop_bindings_of_tokens_deleted_without_the_orm_go_too(post_token, make_client):
    app = make_client()
    key = DPoPKey()
    for _ in range(2):
        post_token(
            {"grant_type": "client_credentials"}, app=app, HTTP_DPOP=key.proof("POST", "http://testserver/oauth2/token")
        )
    gone, kept = get_access_token_model().objects.order_by("pk")
    # As the refresh rotation and a client's deletion delete access tokens: one DELETE, no collector.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {gone._meta.db_table} WHERE id = %s", [gone.pk])  # noqa: S608
    out = StringIO()

    call_command("purge_sessions", stdout=out)

    assert out.getvalue().strip().endswith("and 1 DPoP bindings of tokens that are gone.")
    assert list(DPoPBinding.objects.values_list("access_token_id", flat=True)) == [kept.pk]
