// oauth4webapi's authorization code flow with PKCE for a public client, against a
// live gateway. A person (a browser driven by the Python test) signs in between
// the two halves, so the script talks over stdin and stdout, one JSON line each:
//
//   prints {"authorization_url": "..."}; reads the URL the browser was sent back to;
//   prints what it saw: the validated authorization response, the code exchange,
//   HelloWorld with the token, a refresh, a revocation (tests/e2e/test_code_flow_in_a_browser.py).
//
// With "dpop" after the redirect URI, the code exchange, the refreshes and the calls carry DPoP
// proofs (RFC 9449) by a non-extractable ES256 key, and a refresh by another key is tried first.
//
// Usage: node code_flow.mjs GATEWAY_URL CLIENT_ID REDIRECT_URI [dpop]
import * as oauth from "oauth4webapi";
import { createInterface } from "node:readline";

const [gatewayUrl, clientId, redirectUri, mode] = process.argv.slice(2);
if (!redirectUri) {
  console.error("usage: node code_flow.mjs GATEWAY_URL CLIENT_ID REDIRECT_URI [dpop]");
  process.exit(2);
}
// The test gateway listens on plain http://localhost.
const insecure = { [oauth.allowInsecureRequests]: true };
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const client = { client_id: clientId };
const DPoP = mode === "dpop" ? oauth.DPoP(client, await oauth.generateKeyPair("ES256")) : undefined;
const options = DPoP ? { DPoP, ...insecure } : insecure;

async function hello(accessToken) {
  if (!DPoP) {
    const response = await fetch(`${gatewayUrl}/helloworld/`, { headers: { Authorization: `Bearer ${accessToken}` } });
    return response.status;
  }
  const url = new URL(`${gatewayUrl}/helloworld/`);
  return oauth.protectedResourceRequest(accessToken, "GET", url, undefined, undefined, options).then(
    (response) => response.status,
    (error) => error.status ?? error.name,
  );
}

const issuer = new URL(gatewayUrl);
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
);
const clientAuth = oauth.None();
const codeVerifier = oauth.generateRandomCodeVerifier();
const state = oauth.generateRandomState();
const url = new URL(as.authorization_endpoint);
url.searchParams.set("response_type", "code");
url.searchParams.set("client_id", clientId);
url.searchParams.set("redirect_uri", redirectUri);
url.searchParams.set("scope", "hello");
url.searchParams.set("state", state);
url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
url.searchParams.set("code_challenge_method", "S256");
console.log(JSON.stringify({ authorization_url: url.href }));

const callback = new URL((await lines.next()).value.trim());
const seen = {};
try {
  // Checks state, and iss against the metadata's issuer (RFC 9207), as advertised.
  const params = oauth.validateAuthResponse(as, client, callback, state);
  seen.iss_checked = as.authorization_response_iss_parameter_supported === true && params.get("iss") === as.issuer;
  const tokens = await oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, codeVerifier, options),
  );
  seen.token_type = tokens.token_type;
  seen.refresh_token = Boolean(tokens.refresh_token);
  seen.hello = await hello(tokens.access_token);
  if (DPoP) {
    // A copy of the refresh token without the key: what a thief would get.
    const thief = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
    seen.stolen_refresh_token = await oauth
      .refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { DPoP: thief, ...insecure })
      .then((response) => oauth.processRefreshTokenResponse(as, client, response))
      .then(
        () => "accepted",
        // invalid_grant is 401 by default, its code in the challenge (README, Status codes).
        (error) => error.error ?? error.cause?.[0]?.parameters?.error ?? error.name,
      );
  }
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, options),
  );
  seen.refreshed_token_type = refreshed.token_type;
  seen.refreshed = refreshed.access_token !== tokens.access_token && refreshed.refresh_token !== tokens.refresh_token;
  seen.hello_after_refresh = await hello(refreshed.access_token);
  seen.old_access_token_after_refresh = await hello(tokens.access_token);
  await oauth.processRevocationResponse(
    await oauth.revocationRequest(as, client, clientAuth, refreshed.refresh_token, insecure),
  );
  seen.hello_after_revocation = await hello(refreshed.access_token);
  // The same code again: refused, and (RFC 6749 section 4.1.2) what it issued stays revoked.
  const replay = await oauth.authorizationCodeGrantRequest(
    as, client, clientAuth, params, redirectUri, codeVerifier, insecure,
  );
  seen.code_replay_status = replay.status;
} catch (error) {
  seen.unexpected = `${error.name}: ${error.message} ${JSON.stringify(error.cause ?? null)}`;
}
console.log(JSON.stringify(seen));
process.exit(0);
