"""DPoP at the token endpoint (RFC 9449 sections 5 and 8): which requests need a proof, and what a proof binds.

Each client has a mode (``Application.dpop``):

- ``optional`` (the default): a token request with a valid ``DPoP`` proof gets
  a DPoP-bound access token (``token_type: DPoP``, ``cnf.jkt`` in a JWT); one
  without gets a Bearer token;
- ``required``: a token request without a proof is refused with 400
  ``invalid_dpop_proof`` (section 5.2's ``dpop_bound_access_tokens``); every
  public client is in this mode under ``DPOP_REQUIRED_FOR_PUBLIC_CLIENTS``;
- ``off``: the header is ignored, as a server that does not support DPoP ignores
  it (section 5): no check, Bearer tokens; the client learns it from the
  ``token_type``, which RFC-conformant clients read.

**The proof** is verified once per request, by the token view before any
transaction or upstream call (``token_request_proof``): its replay mark must not
be rolled back with a failed grant (``oauthgw.dpop.replay``). Its ``htu`` is the
token endpoint's URL as the metadata lists it (under ``OAUTHGW_ISSUER``), without
query and fragment. A proof that fails is ``invalid_dpop_proof`` (400); one that
lacks a required nonce, or carries a stale one, ``use_dpop_nonce`` (400) with a
fresh ``DPoP-Nonce`` (section 8); when the replay store cannot answer, 503 with
``Retry-After``. It is checked only for a known, enabled client not set to
``off``: an unknown client's request ends in ``invalid_client`` whatever it sent.
Under ``DPOP_NONCE_REQUIRED`` every answer to a DPoP request carries the next
nonce (section 8.2), so a client retries once per nonce lifetime, not per request.

**The binding**: the validator settles the request's key (``token_request_key``,
before any upstream call), the access token is bound to it when its row is
written (``oauthgw.dpop.bindings.dpop_binding_save``), and the answer says
``DPoP``. **Refresh tokens of public clients** are bound to the same key (section
5): every refresh must carry a proof by that key, else ``invalid_grant``
(``refresh_token_key_matches``), checked before the session's re-verification may
call the upstream; the new pair stays bound to it. A public client's unbound
refresh token refreshed with a proof becomes bound from then on (section 5: a
refresh token issued to a public client presenting a proof MUST be bound).
**Confidential clients' refresh tokens** are not bound (section 5: client
authentication already sender-constrains them, and a client may rotate its DPoP
key): each refresh binds its access token to the key of its own proof, or to none.
Turning DPoP ``off`` for a public client leaves its bound refresh tokens unusable
(its users sign in again) rather than unbinding them.
"""

import logging

from django.http import HttpRequest

from oauthgw.conf import gateway_settings
from oauthgw.dpop.bindings import refresh_token_binding
from oauthgw.dpop.nonces import dpop_nonce_issue
from oauthgw.dpop.proofs import DPoPProof, dpop_proof_verify
from oauthgw.exceptions import (
    DPoPReplayCheckUnavailable,
    InvalidDPoPProof,
    InvalidDPoPProofError,
    TemporarilyUnavailableError,
    UseDPoPNonce,
    UseDPoPNonceError,
)
from oauthgw.issuer import gateway_url
from oauthgw.issuing.clients import CLIENT_READ_KEY, client_load
from oauthgw.models import DPOP_OFF, DPOP_OPTIONAL, DPOP_REQUIRED
from oauthgw.signals import DPOP_KEY_MISMATCH, DPOP_REPLAY_CHECK_UNAVAILABLE, token_outcome_note

logger = logging.getLogger(__name__)

# The request header (as Django's META names it) and the token type of a bound token (RFC 9449 section 5).
HEADER = "HTTP_DPOP"
TOKEN_TYPE = "DPoP"
# Where the token view hands the verified proof's thumbprint to oauthlib's request, among the
# WSGI environ's keys (``OAuthLibCore.extract_headers`` copies them): a client's headers all
# become HTTP_*, so none can set it.
PROOF_KEY = "oauthgw.dpop_jkt"


def dpop_mode(client) -> str:
    """The client's DPoP mode, with public clients required to use it under ``DPOP_REQUIRED_FOR_PUBLIC_CLIENTS``."""
    if client.is_public and gateway_settings.DPOP_REQUIRED_FOR_PUBLIC_CLIENTS:
        return DPOP_REQUIRED
    return client.dpop


def token_endpoint_url(request: HttpRequest) -> str:
    """The URL the request was sent to as clients know it: under the issuer, the metadata's ``token_endpoint``."""
    # The request's own path: the token endpoint answers with and without its trailing slash.
    return gateway_url(request, request.path)


def token_request_proof(request: HttpRequest, *, client_id: str) -> DPoPProof | None:
    """Verify the ``DPoP`` header of a token request of ``client_id``; None when there is none to verify.

    Raises ``InvalidDPoPProofError``, ``UseDPoPNonceError`` or (the replay
    store down) ``TemporarilyUnavailableError``, for the token view to answer.
    """
    if HEADER not in request.META:
        return None
    client = client_load(client_id)
    if client is not None:
        request.META[CLIENT_READ_KEY] = client
    if client is None or not client.enabled or dpop_mode(client) == DPOP_OFF:
        return None
    try:
        proof = dpop_proof_verify(
            [request.META[HEADER]],
            method=request.method,
            url=token_endpoint_url(request),
            nonce_required=gateway_settings.DPOP_NONCE_REQUIRED,
        )
    except InvalidDPoPProof as exc:
        raise InvalidDPoPProofError(description=exc.description) from exc
    except UseDPoPNonce as exc:
        raise UseDPoPNonceError(nonce=exc.nonce, description=exc.description) from exc
    except DPoPReplayCheckUnavailable as exc:
        token_outcome_note(DPOP_REPLAY_CHECK_UNAVAILABLE, error="temporarily_unavailable")
        raise TemporarilyUnavailableError(
            retry_after=exc.retry_after,
            description="DPoP proofs cannot be checked for replay right now; try again later.",
        ) from exc
    request.META[PROOF_KEY] = proof.jkt
    return proof


def next_nonce_headers(proof: DPoPProof | None) -> dict[str, str]:
    """The ``DPoP-Nonce`` to send with the answer to a DPoP request when nonces are required (section 8.2)."""
    if proof is None or not gateway_settings.DPOP_NONCE_REQUIRED:
        return {}
    return {"DPoP-Nonce": dpop_nonce_issue()}


def token_request_key(*, client, request) -> None:
    """Settle the key this token request's tokens are bound to (``request.dpop_jkt``, None for Bearer).

    Raises ``InvalidDPoPProofError`` when the client must send a proof and did
    not. ``request`` is oauthlib's; the validator calls this once the client has
    authenticated, before anything else is done for the grant.
    """
    mode = dpop_mode(client)
    jkt = request.headers.get(PROOF_KEY) if mode != DPOP_OFF else None
    if jkt is None and mode == DPOP_REQUIRED:
        raise InvalidDPoPProofError(
            description="This client must send a DPoP proof (RFC 9449) with every token request.", request=request
        )
    request.dpop_jkt = jkt


def request_jkt(request) -> str | None:
    """The thumbprint the tokens of this (oauthlib) request are bound to, once ``token_request_key`` settled it."""
    return getattr(request, "dpop_jkt", None)


def token_type(request) -> str:
    """``token_type`` of the answer: ``DPoP`` for a bound access token (section 5), else ``Bearer``."""
    return TOKEN_TYPE if request_jkt(request) else "Bearer"


def refresh_token_key_matches(*, token: str, client, request) -> bool:
    """Whether a refresh with ``token`` may go on: a public client's bound token needs a proof by its key.

    One small query, for public clients only. False is ``invalid_grant``; an
    unknown or rotated token passes, for the refresh policy to judge (reuse
    protection included).
    """
    if not client.is_public:
        return True
    binding = refresh_token_binding(token=token)
    if not binding.found or (binding.jkt is None and not binding.unknown):
        return True
    if binding.unknown or binding.jkt != request_jkt(request):
        presented = request_jkt(request)
        logger.info(
            "refresh refused: client %s's refresh token is bound to DPoP key %s, the request %s",
            client.client_id,
            (binding.jkt or "unknown")[:8],
            f"proved key {presented[:8]}" if presented else "carried no proof",
        )
        token_outcome_note(DPOP_KEY_MISMATCH)
        return False
    return True


# --- A client's mode, as operators set it ---------------------------------------------------

_DESCRIPTIONS = {
    DPOP_OPTIONAL: "DPoP optional: a token request with a proof gets a DPoP-bound token, one without a Bearer token",
    DPOP_REQUIRED: "DPoP required: token requests without a DPoP proof are refused (invalid_dpop_proof)",
    DPOP_OFF: "DPoP off: the DPoP header is ignored, every token is a Bearer token",
}


def dpop_mode_parse(text: str) -> str:
    """An operator's ``required``, ``optional`` or ``off`` (any case); ValueError with a sentence otherwise."""
    mode = text.strip().lower()
    if mode not in _DESCRIPTIONS:
        raise ValueError(f"{text!r} is not a DPoP mode: give required, optional or off.")
    return mode


def dpop_mode_described(client) -> str:
    """What the client's mode means, as the commands and the admin say it (the setting for public clients named)."""
    mode = dpop_mode(client)
    if mode != client.dpop:
        return f"{_DESCRIPTIONS[mode]} (OAUTHGW_DPOP_REQUIRED_FOR_PUBLIC_CLIENTS, whatever its own: {client.dpop})"
    return _DESCRIPTIONS[mode]


def client_dpop_set(*, client, mode: str) -> bool:
    """Set the client's DPoP mode; whether it changed. Acts from the next token request on, in every process."""
    if client.dpop == mode:
        return False
    client.dpop = mode
    client.save(update_fields=["dpop", "updated"])
    return True
