"""The ``WWW-Authenticate`` challenges of the APIs: Bearer (RFC 6750 section 3) and DPoP (RFC 9449 section 7.1).

Every challenge names both schemes, the APIs accepting both: ``Bearer
realm="api", DPoP algs="ES256 …"``. The error, when there is one, goes with the
scheme the request used (section 7.2: the mechanism could be told
unambiguously), so a request without credentials gets both challenges with no
error (section 7.2, figure 17), a refused Bearer token ``Bearer error=…`` and a
refused DPoP request ``DPoP error=…``. ``algs`` lists the algorithms a proof may
be signed with (the metadata's ``dpop_signing_alg_values_supported``).
"""

from collections.abc import Mapping

from oauthgw.dpop.keys import signing_algorithms

BEARER = "bearer"
DPOP = "dpop"
REALM = "api"


def _parameters(parameters: Mapping[str, str]) -> str:
    # Values are the gateway's own sentences and codes, none with a quote or backslash.
    return ", ".join(f'{name}="{value}"' for name, value in parameters.items())


def challenges(scheme: str | None, error: Mapping[str, str] | None = None, *, realm: str = REALM) -> str:
    """The header's value for a request that used ``scheme`` (``BEARER``, ``DPOP``, None: no credentials).

    ``error``: ``error``, ``error_description``, ``scope``, in the challenge of that scheme.
    """
    error = dict(error or {})
    bearer = {"realm": realm, **(error if scheme != DPOP else {})}
    dpop = {**(error if scheme == DPOP else {}), "algs": " ".join(signing_algorithms())}
    return f"Bearer {_parameters(bearer)}, DPoP {_parameters(dpop)}"
