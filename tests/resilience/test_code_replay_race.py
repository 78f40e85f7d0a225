"""Eight concurrent exchanges of one authorization code, on PostgreSQL and on SQLite alike.

One exchange wins the code; the seven others are replays (RFC 6749 section
4.1.2: a code is used once, and a second use revokes what the first issued),
however close together they come: each waits for the winner's transaction
(PostgreSQL: the code's row; SQLite: the database's write lock), finds the code
used, and revokes the winner's family. So whoever raced a stolen code against
its client leaves neither of them with a working token.
"""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests
from django.db.models import Sum
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.models import AuditEvent
from tests.oauthgw.code_flow import code_client, sign_in_for_code

CONCURRENCY = 8


@pytest.fixture
def signed_in(transactional_db, live_server, client, upstream):
    app = code_client(client_type="public")
    authorization, parameters = sign_in_for_code(client, upstream, app)
    upstream.mock.add_passthru(live_server.url)
    return authorization, parameters["code"]


def test_a_burst_of_exchanges_of_one_code_leaves_no_live_token(live_server, signed_in):
    authorization, code = signed_in
    start = Barrier(CONCURRENCY)
    form = {
        "grant_type": "authorization_code",
        "client_id": authorization.app.client_id,
        "code": code,
        "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier,
    }

    def exchange(_):
        start.wait(10)
        return requests.post(f"{live_server.url}/oauth2/token", data=form, timeout=30)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = list(pool.map(exchange, range(CONCURRENCY)))

    assert sorted(answer.status_code for answer in answers) == [200] + [401] * (CONCURRENCY - 1)
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    hello = requests.get(
        f"{live_server.url}/helloworld/", headers={"Authorization": f"Bearer {winner['access_token']}"}, timeout=10
    )
    assert hello.status_code == 401
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()
    assert not get_access_token_model().objects.exists()
    # A public client's failures are counted per source (anyone may send its id): requests, not rows.
    assert AuditEvent.objects.filter(outcome="code_reused").aggregate(requests=Sum("count"))["requests"] == (
        CONCURRENCY - 1
    )
