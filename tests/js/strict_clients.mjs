// The gateway as strict JavaScript OAuth clients meet it: oauth4webapi (the RFC
// client under openid-client) and simple-oauth2. Prints one JSON document of what
// each library saw; tests/e2e/test_strict_clients.py asserts on it.
//
// Usage: node strict_clients.mjs GATEWAY_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD
import * as oauth from "oauth4webapi";
import simpleOauth2 from "simple-oauth2";

const [gatewayUrl, clientId, clientSecret, username, password] = process.argv.slice(2);
if (!password) {
  console.error("usage: node strict_clients.mjs GATEWAY_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD");
  process.exit(2);
}
// The test gateway listens on plain http://127.0.0.1.
const insecure = { [oauth.allowInsecureRequests]: true };

async function hello(accessToken) {
  const response = await fetch(`${gatewayUrl}/helloworld/`, { headers: { Authorization: `Bearer ${accessToken}` } });
  return response.status;
}

// What an application can learn from a refused request without reading the body.
function describeOauth4webapiError(error) {
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const [challenge] = error.cause;
    return {
      raised: error.name,
      status: error.status,
      scheme: challenge.scheme,
      challenge_error: challenge.parameters.error ?? null,
    };
  }
  if (error instanceof oauth.ResponseBodyError) {
    return { raised: error.name, status: error.status, body_error: error.error };
  }
  return { raised: error.name, message: error.message };
}

async function withOauth4webapi() {
  const issuer = new URL(gatewayUrl);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
  );
  const client = { client_id: clientId };
  const auth = oauth.ClientSecretBasic(clientSecret);
  const passwordGrant = (secretAuth, pw) =>
    oauth
      .genericTokenEndpointRequest(as, client, secretAuth, "password", { username, password: pw }, insecure)
      .then((response) => oauth.processGenericTokenEndpointResponse(as, client, response));
  const refused = (promise) => promise.then(() => ({ raised: null }), describeOauth4webapiError);

  const tokens = await passwordGrant(auth, password);
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, insecure),
  );
  const helloBeforeRevocation = await hello(refreshed.access_token);
  await oauth.processRevocationResponse(
    await oauth.revocationRequest(as, client, auth, refreshed.access_token, insecure),
  );
  return {
    discovery: { issuer: as.issuer, token_endpoint: as.token_endpoint, grant_types: as.grant_types_supported },
    password: { token_type: tokens.token_type, refresh_token: Boolean(tokens.refresh_token) },
    refresh: { new_access_token: refreshed.access_token !== tokens.access_token },
    hello_before_revocation: helloBeforeRevocation,
    hello_after_revocation: await hello(refreshed.access_token),
    wrong_password: await refused(passwordGrant(auth, `${password}-wrong`)),
    wrong_client_secret: await refused(passwordGrant(oauth.ClientSecretBasic(`${clientSecret}-wrong`), password)),
  };
}

function describeSimpleOauth2Error(error) {
  const data = error.data ?? {};
  return {
    status: error.output?.statusCode ?? null,
    www_authenticate: data.headers?.["www-authenticate"] ?? null,
    body_error: data.payload?.error ?? null,
  };
}

async function withSimpleOauth2() {
  const config = (secret) => ({
    client: { id: clientId, secret },
    auth: { tokenHost: gatewayUrl, tokenPath: "/oauth2/token", revokePath: "/oauth2/revoke" },
  });
  const owner = new simpleOauth2.ResourceOwnerPassword(config(clientSecret));
  const token = await owner.getToken({ username, password });
  const refreshed = await token.refresh();
  const helloBeforeRevocation = await hello(refreshed.token.access_token);
  await refreshed.revokeAll();
  const refused = (promise) => promise.then(() => ({ status: 200 }), describeSimpleOauth2Error);
  return {
    hello_before_revocation: helloBeforeRevocation,
    hello_after_revocation: await hello(refreshed.token.access_token),
    wrong_password: await refused(owner.getToken({ username, password: `${password}-wrong` })),
    wrong_client_secret: await refused(
      new simpleOauth2.ResourceOwnerPassword(config(`${clientSecret}-wrong`)).getToken({ username, password }),
    ),
  };
}

const result = {};
for (const [name, run] of [
  ["oauth4webapi", withOauth4webapi],
  ["simple_oauth2", withSimpleOauth2],
]) {
  try {
    result[name] = await run();
  } catch (error) {
    // An unexpected failure is a result too: the test prints it.
    result[name] = { unexpected: `${error.name}: ${error.message}`, ...(error.cause ? { cause: error.cause } : {}) };
  }
}
console.log(JSON.stringify(result, null, 2));
