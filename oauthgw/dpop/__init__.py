"""DPoP (RFC 9449): proofs of possession of a key, checked the same way at the token endpoint and at the APIs.

The whole protocol core in one package, so that both sides call the same rules:

- ``proofs``: ``dpop_proof_verify``, one ``DPoP`` header checked against the
  request (section 4.3), answering a ``DPoPProof`` or raising ``InvalidDPoPProof``,
  ``UseDPoPNonce`` or ``DPoPReplayCheckUnavailable`` (``oauthgw.exceptions``);
- ``jose``: the compact JWS a proof is written in, read strictly and within bounds;
- ``keys``: the algorithms and public keys a proof may use (``signing_algorithms``
  for the metadata's ``dpop_signing_alg_values_supported``);
- ``thumbprints``: what a token is bound to (``jwk_thumbprint``, the ``cnf.jkt``)
  and the ``ath`` of an access token (``access_token_hash``);
- ``replay``: each proof accepted once, in every process and instance;
- ``nonces``: server nonces (``dpop_nonce_issue``) every process accepts;
- ``bindings``: what a bound token is bound to, kept server-side
  (``dpop_binding_save``, the one writer; a public client's refresh token read
  through its access token).

It sits just above the caches (the replay store) and below everything that
speaks HTTP: the issuing side and the resource server both import it, and it
imports neither (``pyproject.toml``'s import contracts).
"""
