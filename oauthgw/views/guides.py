"""``GET /docs/migrating-off-password-grant.md``: the guide a client's password-grant sunset points to.

The Link headers and the refusal of a client near or past its sunset
(``oauthgw.issuing.password_sunset``) name this URL unless an operator publishes
the guide elsewhere (``OAUTHGW_PASSWORD_GRANT_GUIDE_URL``), so it must answer out
of the box: the file ships with the code, in the repository's ``docs/``, and is
served as it is, as Markdown (RFC 7763), which browsers show as text.
"""

import logging
from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse

from oauthgw.issuing.password_sunset import GUIDE_MEDIA_TYPE, GUIDE_PATH
from oauthgw.views.read_only import read_only

logger = logging.getLogger(__name__)

# The repository's docs/ folder, next to the package.
GUIDE_FILE = Path(__file__).resolve().parents[2] / GUIDE_PATH
CACHE_SECONDS = 3600


@login_not_required
@read_only
def password_grant_guide(request):
    try:
        text = GUIDE_FILE.read_bytes()
    except OSError as exc:
        # An installation without the docs/ folder: the operator learns what to do, the client gets the JSON 404.
        logger.warning("the migration guide cannot be read (%s): set OAUTHGW_PASSWORD_GRANT_GUIDE_URL", exc)
        raise Http404("no migration guide") from exc
    response = HttpResponse(text, content_type=f"{GUIDE_MEDIA_TYPE}; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response
