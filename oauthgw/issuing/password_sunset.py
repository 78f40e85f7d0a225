"""The sunset of the password grant, per client: announced until its last day, refused after it.

RFC 9700 section 2.4: the password grant MUST NOT be used. A client that still
uses it gets a date (``Application.password_grant_until``): the last day, in
UTC, on which its password grant works (``models.password_grant_sunset_of``
says what the date means, once). Here is everything that follows from it:

- **Until then**, every answer to a password-grant request of that client,
  once the client is authenticated (a token, a wrong password, a throttled
  login, an outage, a scope refused), carries ``Deprecation`` (RFC 9745: when
  the date was first set, as ``@<Unix seconds>``), ``Sunset`` (RFC 8594: the
  first moment it is refused, 00:00 UTC the next day, as an HTTP-date) and a
  ``Link`` to the migration guide with ``rel="deprecation"`` and
  ``rel="sunset"``. A request whose client is not authenticated learns nothing
  of the client's settings.
- **From then on** the request gets 400 ``unauthorized_client`` with an
  ``error_description`` naming the last day and the guide, with the same
  headers. It is refused before the scope, the resource owner's block, the
  failure limits and the authorization server: the username and password never
  leave the gateway, and nothing is counted against anyone. The audit trail
  says ``password_grant_ended``.
- **Sessions** a password login started go on refreshing after the sunset
  until their maximum age (``SESSION_MAX_AGE``, or the client's own): no user
  who is logged in is cut off on the day. With ``PASSWORD_GRANT_SUNSET_ENDS_SESSIONS``
  they end at the sunset instead: their refreshes get ``invalid_grant``
  (the audit says ``session_expired``), and ``refresh_token_expires_in`` says so
  from the login on (``session_sunset``, read by ``oauthgw.issuing.sessions``).

The guide is ``PASSWORD_GRANT_GUIDE_URL``, else the one the gateway serves
itself at ``<issuer>/docs/migrating-off-password-grant.md`` (text/markdown).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.http import http_date

from oauthgw import grants
from oauthgw.conf import gateway_settings
from oauthgw.exceptions import PasswordGrantEnded
from oauthgw.issuer import REQUEST_KEY
from oauthgw.models import Application, password_grant_sunset_of
from oauthgw.signals import PASSWORD_GRANT_ENDED, token_outcome_note

# Where the gateway serves the guide (``oauthgw.urls``), below its issuer.
GUIDE_PATH = "docs/migrating-off-password-grant.md"
GUIDE_MEDIA_TYPE = "text/markdown"


def _now() -> datetime:
    # The clock the token endpoint reads the date against; tests replace it to stand on the boundary.
    return timezone.now()


def guide_url(issuer: str) -> str:
    """The migration guide's URL: ``PASSWORD_GRANT_GUIDE_URL``, else the gateway's own copy below ``issuer``."""
    return gateway_settings.PASSWORD_GRANT_GUIDE_URL or f"{issuer.rstrip('/')}/{GUIDE_PATH}"


@dataclass(frozen=True)
class PasswordGrantSunset:
    """One client's sunset as its password-grant answers announce it."""

    last_day: date
    deprecated: datetime
    guide_url: str

    @property
    def sunset(self) -> datetime:
        return password_grant_sunset_of(self.last_day)

    def ended(self, now: datetime) -> bool:
        return now >= self.sunset

    def headers(self) -> dict[str, str]:
        # RFC 9745 section 3: the Sunset must not be earlier than the Deprecation
        # (a date set on its own last day, or after it, is deprecated since the sunset).
        deprecated = min(self.deprecated, self.sunset)
        # The type only where the gateway knows it: its own copy of the guide.
        media_type = "" if gateway_settings.PASSWORD_GRANT_GUIDE_URL else f'; type="{GUIDE_MEDIA_TYPE}"'
        links = (f'<{self.guide_url}>; rel="{relation}"{media_type}' for relation in ("deprecation", "sunset"))
        return {
            "Deprecation": f"@{int(deprecated.timestamp())}",
            "Sunset": http_date(self.sunset.timestamp()),
            "Link": ", ".join(links),
        }

    def refusal(self) -> str:
        """The ``error_description`` of a refused request (RFC 6749 section 5.2 characters only)."""
        return (
            f"This client may no longer use the password grant: its last day was {self.last_day.isoformat()} "
            f"(UTC). Use the authorization code flow with PKCE instead: {self.guide_url}"
        )


# The sunset of the client whose password-grant request this thread is answering.
_announced: ContextVar[PasswordGrantSunset | None] = ContextVar("oauthgw_password_grant_sunset", default=None)


@contextmanager
def password_grant_sunset_noting() -> Iterator[Callable[[], PasswordGrantSunset | None]]:
    """Collect the sunset a token request's answer must announce; yields a reader of it (None: nothing to say)."""
    reset = _announced.set(None)
    try:
        yield _announced.get
    finally:
        _announced.reset(reset)


def password_grant_sunset_check(*, client: Application, request) -> None:
    """For an authenticated client's password-grant request (oauthlib's): note its sunset, refuse it once past.

    Raises ``PasswordGrantEnded`` (with the ``error_description``) from the first
    moment after the client's last day. Costs nothing for a client without a date.
    """
    if client.password_grant_until is None:
        return
    sunset = PasswordGrantSunset(
        last_day=client.password_grant_until,
        # Never None with a date: a check constraint holds them together.
        deprecated=client.password_grant_deprecated,
        # The issuer the toolkit's backend computed from the Django request (oauthgw.issuer).
        guide_url=guide_url(request.headers[REQUEST_KEY]),
    )
    _announced.set(sunset)
    if sunset.ended(_now()):
        token_outcome_note(PASSWORD_GRANT_ENDED, error="unauthorized_client")
        raise PasswordGrantEnded(sunset.refusal())


def session_sunset(*, client: Application, grant_type: str) -> datetime | None:
    """When a session the grant ``grant_type`` started must end because of the sunset; None: it need not."""
    if grant_type != grants.PASSWORD or not gateway_settings.PASSWORD_GRANT_SUNSET_ENDS_SESSIONS:
        return None
    return client.password_grant_sunset


def password_grant_sunset_described(client: Application, *, now: datetime | None = None) -> str:
    """What the client's date means now, for an operator: the commands' output, the admin's history and page."""
    if client.password_grant_until is None:
        return "its password grant has no last day: no sunset, and its answers announce none"
    sunset = f"{client.password_grant_sunset:%Y-%m-%d %H:%M} UTC"
    last_day = client.password_grant_until.isoformat()
    if client.password_grant_ended(now or timezone.now()):
        text = f"its password grant's last day was {last_day} (UTC): refused since {sunset}"
    else:
        text = (
            f"its password grant's last day is {last_day} (UTC): refused from {sunset}, "
            "announced in its answers until then"
        )
    if not client.allows_grant_type(grants.PASSWORD):
        text += "; it does not have the password grant, so this changes nothing for now"
    return text


# --- Setting the date ------------------------------------------------------------------------


def password_grant_until_parse(text: str) -> date | None:
    """A date an operator typed: ``YYYY-MM-DD``, or ``none`` to clear it. ``ValueError`` says what is wrong."""
    value = text.strip()
    if value.lower() == "none":
        return None
    try:
        if len(value) != len("YYYY-MM-DD"):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date: give the password grant's last day (UTC) as YYYY-MM-DD, or none to clear it."
        ) from None


def password_grant_deprecation_stamp(client: Application, *, now: datetime | None = None) -> None:
    """Keep ``password_grant_deprecated`` in step with the date, on the instance (the caller saves it).

    Stamped when a date is first set, kept when it moves (the grant has been
    deprecated since then, whatever the last day becomes), cleared with it. For
    every writer of the date: the commands and the admin's form.
    """
    if client.password_grant_until is None:
        client.password_grant_deprecated = None
    elif client.password_grant_deprecated is None:
        client.password_grant_deprecated = now or timezone.now()


@transaction.atomic
def password_grant_until_set(*, client: Application, until: date | None) -> bool:
    """Set (or clear, with None) the client's password-grant sunset; return whether anything changed.

    Acts from the next request on, in every process: the token endpoint reads the
    client's row at every request.
    """
    locked = Application.objects.select_for_update().get(pk=client.pk)
    changed = locked.password_grant_until != until
    if changed:
        locked.password_grant_until = until
        password_grant_deprecation_stamp(locked)
        # save() and not update(): the bearer cache listens for the client's post_save.
        locked.save(update_fields=["password_grant_until", "password_grant_deprecated", "updated"])
    client.password_grant_until = locked.password_grant_until
    client.password_grant_deprecated = locked.password_grant_deprecated
    client.updated = locked.updated
    return changed
