"""The DPoP settings' system checks: a proof algorithm list or a window that cannot work stops the start.

Here rather than in ``oauthgw.checks``, which sits at the bottom of the layers and
cannot import this package; registered by ``oauthgw.apps``.
"""

from django.core.checks import Error, register

from oauthgw.conf import gateway_settings
from oauthgw.dpop import keys as dpop_keys


@register()
def check_dpop_settings(app_configs, **kwargs):
    problems = []
    configured = dpop_keys.configured_algorithms()
    unsupported = [name for name in configured if name not in dpop_keys.ALGORITHMS]
    if unsupported or not configured:
        problems.append(
            Error(
                "OAUTHGW_DPOP_SIGNING_ALGORITHMS must name asymmetric JWS algorithms DPoP proofs can use"
                + (f"; not: {', '.join(unsupported)}." if unsupported else "."),
                hint=f"Comma-separated, among {', '.join(dpop_keys.ALGORITHMS)}; none and HS* never "
                "(RFC 9449 section 4.3).",
                id="oauthgw.E040",
            )
        )
    for name, minimum in (("DPOP_PROOF_MAX_AGE", 1), ("DPOP_NONCE_LIFETIME", 1), ("DPOP_CLOCK_SKEW", 0)):
        value = getattr(gateway_settings, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            problems.append(
                Error(f"OAUTHGW_{name} must be {'positive' if minimum else '0 or more'} seconds.", id="oauthgw.E041")
            )
    return problems
