// oauth4webapi's DPoP (RFC 9449) against a live gateway: client_credentials, password and
// refresh_token with a non-extractable ES256 key, HelloWorld called with DPoP-bound tokens, and
// use_dpop_nonce answered as the library's documentation shows (isDPoPNonceError, one retry).
// Prints one JSON document of what it saw; tests/e2e/test_dpop.py asserts on it.
//
// Usage: node dpop_clients.mjs GATEWAY_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD
import * as oauth from "oauth4webapi";

const [gatewayUrl, clientId, clientSecret, username, password] = process.argv.slice(2);
if (!password) {
  console.error("usage: node dpop_clients.mjs GATEWAY_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD");
  process.exit(2);
}
// The test gateway listens on plain http://127.0.0.1.
const insecure = { [oauth.allowInsecureRequests]: true };
const helloUrl = new URL(`${gatewayUrl}/helloworld/`);
const seen = { nonce_retries: 0 };

// A request and the processing of its answer, again once if the server wants a (fresh) nonce:
// the DPoP handle has kept the nonce the refusal carried.
async function retryingOnNonce(attempt) {
  try {
    return await attempt();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) {
      throw error;
    }
    seen.nonce_retries += 1;
    return attempt();
  }
}

function describe(error) {
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    // The error is in the challenge of the scheme the request used (RFC 9449 section 7.2).
    const challenge = error.cause.find((candidate) => candidate.parameters.error) ?? error.cause[0];
    return { raised: error.name, status: error.status, scheme: challenge.scheme, error: challenge.parameters.error };
  }
  if (error instanceof oauth.ResponseBodyError) {
    return { raised: error.name, status: error.status, error: error.error };
  }
  return { raised: error.name, message: error.message };
}

async function hello(accessToken, DPoP) {
  const response = await retryingOnNonce(() =>
    oauth.protectedResourceRequest(accessToken, "GET", helloUrl, undefined, undefined, { DPoP, ...insecure }),
  );
  return response.status;
}

try {
  const issuer = new URL(gatewayUrl);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
  );
  seen.dpop_algs = as.dpop_signing_alg_values_supported;
  const client = { client_id: clientId };
  const auth = oauth.ClientSecretBasic(clientSecret);
  const keyPair = await oauth.generateKeyPair("ES256");
  const DPoP = oauth.DPoP(client, keyPair);
  seen.jkt = await DPoP.calculateThumbprint();

  const machine = await retryingOnNonce(async () =>
    oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: "hello" }, { DPoP, ...insecure }),
    ),
  );
  seen.client_credentials = { token_type: machine.token_type, hello: await hello(machine.access_token, DPoP) };

  const person = await retryingOnNonce(async () =>
    oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await oauth.genericTokenEndpointRequest(as, client, auth, "password", { username, password }, {
        DPoP,
        ...insecure,
      }),
    ),
  );
  seen.password = { token_type: person.token_type, hello: await hello(person.access_token, DPoP) };

  const refreshed = await retryingOnNonce(async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, person.refresh_token, { DPoP, ...insecure }),
    ),
  );
  seen.refresh = {
    token_type: refreshed.token_type,
    new_access_token: refreshed.access_token !== person.access_token,
    hello: await hello(refreshed.access_token, DPoP),
    old_access_token: await hello(person.access_token, DPoP).catch(describe),
  };

  // The same token with another key: what a thief who copied it without the key gets.
  const thief = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  seen.stolen_access_token = await hello(refreshed.access_token, thief).catch(describe);
  seen.stolen_as_bearer = (
    await fetch(helloUrl, { headers: { Authorization: `Bearer ${refreshed.access_token}` } })
  ).status;
} catch (error) {
  seen.unexpected = `${error.name}: ${error.message} ${JSON.stringify(error.cause ?? null)}`;
}
console.log(JSON.stringify(seen));
process.exit(0);
