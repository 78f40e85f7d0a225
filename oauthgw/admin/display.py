"""How the admin writes moments and counts: one date format, plurals right.

Dates follow ``DATETIME_FORMAT`` (gatewayproj/formats/), which Django's own list
and detail pages use too, so a text built here reads like the column next to it.
"""

import re
from datetime import UTC, datetime

from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import ngettext

from oauthgw.issuing.bulk_revocation import Revoked

NOTHING_SHOWN = "—"


def datetime_display(value: datetime | None, *, with_utc: bool = False) -> str:
    """``2026-12-01 13:29 UTC`` in the admin's time zone (``TIME_ZONE``); a dash for none.

    ``with_utc`` adds the UTC time when the admin's zone is another one: for the
    moments an operator compares with clients and logs elsewhere (a secret's expiry).
    """
    if value is None:
        return NOTHING_SHOWN
    local = timezone.localtime(value)
    text = formats.date_format(local, "DATETIME_FORMAT")
    if with_utc and local.tzname() != "UTC":
        text += f" ({formats.date_format(value.astimezone(UTC), 'H:i')} UTC)"
    return text


def datetime_cell(value: datetime | None) -> SafeString | str:
    """``datetime_display`` for a narrow list column: it may wrap between the day and the time, nowhere else."""
    if value is None:
        return NOTHING_SHOWN
    day, _, time = datetime_display(value).partition(" ")
    return format_html('<span class="gw-nowrap">{}</span> <span class="gw-nowrap">{}</span>', day, time)


# What separates the parts of an e-mail address, a URL, a dotted or dashed name, an outcome code.
_SEPARATORS = re.compile(r"(?<=[/@._-])")


def wrappable(text: str) -> SafeString:
    """``text`` that may wrap after its separators (``/ @ . _ -``), where no space lets it wrap.

    For the long identifiers of narrow list columns: ``firstname.lastname@`` on one
    line and ``customers.example.com`` on the next, rather than a column as wide as
    the address or a break in the middle of a word.
    """
    return format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in _SEPARATORS.split(text)))


def count_display(count: int, singular: str, plural: str) -> str:
    """``1 access token``, ``3 access tokens``."""
    return ngettext(f"%(count)d {singular}", f"%(count)d {plural}", count) % {"count": count}


def tokens_display(counts: Revoked) -> str:
    """``3 access tokens, 1 refresh token``."""
    return (
        f"{count_display(counts.access_tokens, 'access token', 'access tokens')}, "
        f"{count_display(counts.refresh_tokens, 'refresh token', 'refresh tokens')}"
    )
