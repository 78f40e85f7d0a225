"""OpenAPI 3 description of the authorization server's endpoints.

The token, revocation and introspection endpoints are plain Django views driven
by django-oauth-toolkit, which drf-spectacular cannot inspect; they are described
here by hand (RFC 6749, 7009, 7662) and added to the generated document by
``add_authorization_server``, a drf-spectacular post-processing hook. The DRF
APIs (HelloWorld) are generated from their views.
"""

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict:
    return {"description": description, "content": {_JSON: {"schema": _ref("OAuthError")}}}


def _form(schema_name: str) -> dict:
    return {"required": True, "content": {_FORM: {"schema": _ref(schema_name)}}}


_CLIENT_AUTH = [{"clientBasic": []}, {}]  # Basic, or client_id/client_secret in the body

SCHEMAS = {
    "TokenRequest": {
        "type": "object",
        "description": "RFC 6749 sections 4.1.3, 4.3, 4.4 and 6. Client credentials go in HTTP Basic (preferred) "
        "or as client_id/client_secret in the body, not both; a public client sends its client_id alone.",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {
                "type": "string",
                "enum": ["authorization_code", "password", "refresh_token", "client_credentials"],
            },
            "code": {"type": "string", "description": "authorization_code grant: the code, good once for 60 s"},
            "code_verifier": {"type": "string", "description": "authorization_code grant: the PKCE verifier (S256)"},
            "redirect_uri": {"type": "string", "description": "authorization_code grant: as in the request"},
            "username": {"type": "string", "description": "password grant: checked by the external server"},
            "password": {"type": "string", "format": "password", "description": "password grant; never stored"},
            "refresh_token": {"type": "string", "description": "refresh_token grant; rotated on every use"},
            "scope": {"type": "string", "description": "space-separated; defaults to the client's default scopes"},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "format": "password"},
        },
    },
    "TokenResponse": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "scope"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {
                "type": "string",
                "enum": ["Bearer", "DPoP"],
                "description": "DPoP: the access token is bound to the key of the request's DPoP proof (RFC 9449).",
            },
            "expires_in": {"type": "integer", "description": "seconds"},
            "scope": {"type": "string"},
            "refresh_token": {"type": "string", "description": "authorization_code, password and refresh_token grants"},
            "refresh_token_expires_in": {
                "type": "integer",
                "description": "seconds: the refresh token's lifetime, or what remains of its session if less",
            },
        },
    },
    "RevocationRequest": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        },
    },
    "IntrospectionRequest": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        },
    },
    "IntrospectionResponse": {
        "type": "object",
        "description": 'RFC 7662 section 2.2; an inactive, unknown or foreign token is just {"active": false}.',
        "required": ["active"],
        "properties": {
            "active": {"type": "boolean"},
            "token_type": {
                "type": "string",
                "enum": ["Bearer", "DPoP"],
                "description": "Access tokens only; omitted for a refresh token, which has no RFC 6749 token type.",
            },
            "cnf": {
                "type": "object",
                "description": "A DPoP-bound access token: jkt, the thumbprint of its key (RFC 9449 section 6.2).",
                "properties": {"jkt": {"type": "string"}},
            },
            "scope": {"type": "string"},
            "client_id": {"type": "string"},
            "username": {"type": "string"},
            "exp": {"type": "integer"},
            "iat": {"type": "integer"},
        },
    },
    "OAuthError": {
        "type": "object",
        "description": "RFC 6749 section 5.2.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "string",
                "examples": [
                    "invalid_request",
                    "invalid_client",
                    "invalid_grant",
                    "unauthorized_client",
                    "unsupported_grant_type",
                    "invalid_scope",
                    "temporarily_unavailable",
                    "invalid_dpop_proof",
                    "use_dpop_nonce",
                ],
            },
            "error_description": {"type": "string"},
        },
    },
}

SECURITY_SCHEMES = {
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "The client's id and secret, each form-urlencoded (RFC 6749 section 2.3.1).",
    }
}

_NO_STORE = {"Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}}}
# RFC 9449 sections 8 and 8.2: the nonce the next DPoP proof must carry, when nonces are required.
_DPOP_NONCE = {
    "DPoP-Nonce": {
        "description": "The server nonce the next DPoP proof must carry (OAUTHGW_DPOP_NONCE_REQUIRED).",
        "schema": {"type": "string"},
    }
}
_DPOP_PARAMETER = {
    "name": "DPoP",
    "in": "header",
    "required": False,
    "description": "A DPoP proof (RFC 9449): the access token is then bound to its key (token_type DPoP). "
    "Required for clients whose DPoP mode is required.",
    "schema": {"type": "string"},
}
# On every answer to a password-grant request of a client with a last day (oauthgw.issuing.password_sunset).
_SUNSET = {
    "Deprecation": {
        "description": "RFC 9745: since when the client's password grant is deprecated, e.g. @1796613120.",
        "schema": {"type": "string"},
    },
    "Sunset": {
        "description": "RFC 8594: refused from then on (00:00 UTC after the last day): Thu, 01 Apr 2027 00:00:00 GMT.",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The migration guide, rel="deprecation" and rel="sunset".',
        "schema": {"type": "string"},
    },
}

PATHS = {
    "/oauth2/token": {
        "post": {
            "operationId": "oauth2_token",
            "summary": "Issue tokens (authorization_code, password, refresh_token, client_credentials)",
            "tags": ["oauth2"],
            "security": _CLIENT_AUTH,
            "parameters": [_DPOP_PARAMETER],
            "requestBody": _form("TokenRequest"),
            "responses": {
                "200": {
                    "description": "Tokens issued.",
                    "headers": {**_NO_STORE, **_SUNSET, **_DPOP_NONCE},
                    "content": {_JSON: {"schema": _ref("TokenResponse")}},
                },
                "400": {
                    **_error(
                        "invalid_request, unauthorized_client (also a password-grant request after its client's "
                        "last day), unsupported_grant_type, invalid_scope; invalid_dpop_proof (a DPoP proof that "
                        "does not hold, or none from a client that must send one), use_dpop_nonce (with DPoP-Nonce)."
                    ),
                    "headers": {**_SUNSET, **_DPOP_NONCE},
                },
                "401": _error(
                    "invalid_client (unknown, wrong secret, disabled), or invalid_grant (wrong username or "
                    "password, expired, revoked or replayed refresh token, a session the authorization server no "
                    "longer vouches for or past its maximum age, a public client's DPoP-bound refresh token "
                    "without a proof by its key; 400 when configured for strict RFC 6749)."
                ),
                "429": _error("Too many failed attempts; see Retry-After."),
                "503": _error(
                    "temporarily_unavailable: the external authorization server did not answer (a login, or a "
                    "refresh that re-verifies its session), or DPoP proofs cannot be checked for replay (Redis "
                    "down); see Retry-After."
                ),
            },
        }
    },
    "/oauth2/revoke": {
        "post": {
            "operationId": "oauth2_revoke",
            "summary": "Revoke one of the calling client's tokens (RFC 7009)",
            "tags": ["oauth2"],
            "security": _CLIENT_AUTH,
            "requestBody": _form("RevocationRequest"),
            "responses": {
                "200": {"description": "Revoked, or the token was unknown (RFC 7009 section 2.2)."},
                "400": _error("invalid_request."),
                "401": _error("invalid_client."),
            },
        }
    },
    "/oauth2/introspect": {
        "post": {
            "operationId": "oauth2_introspect",
            "summary": "Introspect a token (RFC 7662), for clients allowed to",
            "tags": ["oauth2"],
            "security": _CLIENT_AUTH,
            "requestBody": _form("IntrospectionRequest"),
            "responses": {
                "200": {
                    "description": 'What the token is, or {"active": false}.',
                    "headers": _NO_STORE,
                    "content": {_JSON: {"schema": _ref("IntrospectionResponse")}},
                },
                "400": _error("invalid_request: no token parameter."),
                "401": _error("invalid_client."),
                "403": _error("This client may not introspect tokens."),
            },
        }
    },
}


def add_authorization_server(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: add the hand-written paths and components."""
    result.setdefault("paths", {}).update(PATHS)
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return result
