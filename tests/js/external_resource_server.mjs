// An API in Node that verifies the gateway's JWT access tokens alone, with jose, as API teams write one.
// It knows only the gateway's URL and its own audience: the JWKS comes from the RFC 8414 metadata's
// jwks_uri (createRemoteJWKSet: fetched over HTTP, cached, fetched again for an unknown kid), and
// jwtVerify checks what RFC 9068 section 4 asks: typ at+jwt, the alg, the signature, iss, aud, exp.
//
// Usage: node external_resource_server.mjs GATEWAY_URL AUDIENCE < tokens.json
// reads {"name": token, ...} and prints {"name": "accepted" | "<jose error code>", ...}.
import * as jose from "jose";

const [gatewayUrl, audience] = process.argv.slice(2);
if (!audience) {
  console.error("usage: node external_resource_server.mjs GATEWAY_URL AUDIENCE < tokens.json");
  process.exit(2);
}

async function stdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const metadata = await (await fetch(`${gatewayUrl}/.well-known/oauth-authorization-server`)).json();
const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
const options = {
  issuer: metadata.issuer,
  audience,
  typ: "at+jwt",
  algorithms: ["ES256", "RS256"],
  requiredClaims: ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"],
};

const verdicts = {};
for (const [name, token] of Object.entries(await stdin())) {
  try {
    await jose.jwtVerify(token, jwks, options);
    verdicts[name] = "accepted";
  } catch (error) {
    verdicts[name] = error.code ?? error.name;
  }
}
console.log(JSON.stringify(verdicts));
