"""purge_sessions: the sessions whose family ended go, with the upstream tokens kept for them."""

from io import StringIO

import pytest
from django.core.management import call_command
from oauth2_provider.models import get_refresh_token_model

from oauthgw.models import UpstreamSession

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
