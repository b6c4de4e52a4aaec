// The AWS credentials double (fake_aws_metadata_server) as the AWS SDK for JavaScript's own
// providers read it: @aws-sdk/credential-provider-http fromHttp() (the ECS/EKS container
// endpoint, with its authorization token from the environment and from a token file) and
// @smithy/credential-provider-imds fromInstanceMetadata() (IMDSv2: token, role, credentials).
// Usage: node credentials_oracle.cjs PORT AUTH_TOKEN TOKEN_FILE KEY_ID SECRET SESSION_TOKEN
// Prints what failed; exits 1 on a failure.
"use strict";
const [port, auth, tokenFile, keyId, secret, session] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;

let failures = 0;
const fail = (m) => {
  console.log("FAIL: " + m);
  failures++;
};

function check(name, c) {
  if (c.accessKeyId !== keyId || c.secretAccessKey !== secret || c.sessionToken !== session)
    fail(`${name}: keys ${c.accessKeyId} / ${c.secretAccessKey === secret ? "secret ok" : "wrong secret"} / ${c.sessionToken}`);
  // The double's Expiration is an hour ahead (RFC 3339 with milliseconds).
  const left = c.expiration && c.expiration.getTime() - Date.now();
  if (!(left > 3500e3 && left <= 3600e3)) fail(`${name}: expiration ${c.expiration && c.expiration.toISOString()}`);
}

(async () => {
  const { fromHttp } = require("@aws-sdk/credential-provider-http");
  const { fromInstanceMetadata } = require("@smithy/credential-provider-imds");
  try {
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${base}/container/v2/credentials`;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = auth;
    check("fromHttp, token", await fromHttp({ maxRetries: 0 })());

    // The token file wins over the variable (re-read on each fetch).
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = "wrong-token";
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = tokenFile;
    check("fromHttp, token file", await fromHttp({ maxRetries: 0 })());

    // A wrong token is refused (401), and the provider fails rather than resolving keys.
    delete process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
    try {
      await fromHttp({ maxRetries: 0 })();
      fail("fromHttp with a wrong token resolved keys");
    } catch (e) {
      /* expected */
    }

    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = base;
    check("fromInstanceMetadata", await fromInstanceMetadata({ timeout: 2000, maxRetries: 0 })());
  } catch (e) {
    fail("unexpected: " + (e && e.stack));
  }
  if (failures) process.exit(1);
  console.log("credentials oracle: fromHttp (token, token file, wrong token) and fromInstanceMetadata (IMDSv2) resolve the double's keys");
})();
