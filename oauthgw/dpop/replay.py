"""Each DPoP proof accepted once (RFC 9449 section 11.1), in every process and every instance.

A proof's ``jti`` is claimed in the shared state (``oauthgw.caching.shared_state``):
Redis when it is configured, which every instance reaches, else the database,
which every worker process of the embedded deployment shares. The claim is one
atomic statement (SET NX, or an upsert), so of two requests racing with one proof,
in two processes or two instances, exactly one wins.

The ``jti`` is scoped by the key's thumbprint: a ``jti`` is chosen by the client,
and another client choosing the same one must not be refused for it (nor be able
to burn someone else's). Key and ``jti`` are hashed: the stored key is bounded and
holds nothing the client sent. The mark is kept for as long as the proof could
still be accepted: ``DPOP_PROOF_MAX_AGE`` after its ``iat``, and its ``iat`` may
be ``DPOP_CLOCK_SKEW`` ahead of this clock, with as much again for another
instance's clock.

**When Redis is down**, the claim cannot be made. By default the proof is then
refused with ``DPoPReplayCheckUnavailable`` (503 and ``Retry-After``, never
``invalid_dpop_proof``: the proof may be good): accepting it unchecked would let a
captured proof be replayed for the whole window, and replay protection that
lapses whenever Redis does is no protection. The cost is availability: every
DPoP request fails while Redis is unreachable (within ``shared_state.BACKOFF``
seconds of its return, they pass again). ``OAUTHGW_DPOP_REPLAY_CHECK_REQUIRED=false``
chooses availability instead: the proof is accepted unchecked and the refusal log
line says so. Without Redis, the database is the store and its failure fails the
request like any other query.

Call it outside a transaction that may roll back: a rolled-back claim is
forgotten, and the same proof could then be accepted again.
"""

import hashlib
import logging
import math

from oauthgw.caching import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.exceptions import DPoPReplayCheckUnavailable, InvalidDPoPProof, SharedStateUnavailable

logger = logging.getLogger(__name__)

_PREFIX = "dpop-jti:"


def replay_window() -> float:
    """Seconds a proof's ``jti`` is remembered: as long as any instance could accept the proof."""
    return gateway_settings.DPOP_PROOF_MAX_AGE + 2 * gateway_settings.DPOP_CLOCK_SKEW


def jti_claim(*, jkt: str, jti: str) -> None:
    """Record that the proof ``jti`` of key ``jkt`` was used; raise ``InvalidDPoPProof`` if it was before."""
    digest = hashlib.sha256(f"{jkt}\0{jti}".encode("utf-8", "surrogatepass")).hexdigest()
    try:
        first = shared_state.claim(_PREFIX + digest, timeout=replay_window())
    except SharedStateUnavailable as exc:
        if gateway_settings.DPOP_REPLAY_CHECK_REQUIRED:
            raise DPoPReplayCheckUnavailable(retry_after=math.ceil(shared_state.BACKOFF)) from exc
        logger.info("DPoP proof accepted without a replay check: the shared cache is unavailable (key %s)", jkt[:8])
        return
    if not first:
        raise InvalidDPoPProof("The DPoP proof has been used before (its jti).")
