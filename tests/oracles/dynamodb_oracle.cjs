// The DynamoDB double as AWS's own client reads it: DynamoDBClient (endpoint override, static
// test keys) signs GetItem and PutItem and the double accepts the signature; the SDK parses the
// double's replies: an item found (every AttributeValue type, equal to the one stored), an item
// absent, ResourceNotFoundException for a missing table, throttling retried by the SDK, and a
// wrong secret refused as InvalidSignatureException. Then the C converter's plain JSON for the
// rich item (CONVERTED, from tests/oracles/dynamodb_item_convert) is compared with the
// documented mapping applied to the SDK's parse, and with @aws-sdk/util-dynamodb's unmarshall
// when that package is installed.
// node dynamodb_oracle.cjs PORT ITEMS_JSON CONVERTED_JSON. Exits 1 on a failure.
"use strict";
const fs = require("fs");
const http = require("http");
const {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} = require("@aws-sdk/client-dynamodb");

const [port, itemsPath, convertedPath] = process.argv.slice(2);
const endpoint = `http://127.0.0.1:${port}`;
const stored = JSON.parse(fs.readFileSync(itemsPath, "utf8")).Policies[0];
const converted = fs.readFileSync(convertedPath, "utf8").trim();
const KEY = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
let failures = 0;
const fail = (m) => {
  console.log("FAIL: " + m);
  failures++;
};
const client = (credentials) =>
  new DynamoDBClient({ endpoint, region: "us-east-1", credentials, maxAttempts: 3 });

// The SDK's parsed AttributeValue map back in wire form (binaries as base64).
const b64 = (u8) => Buffer.from(u8).toString("base64");
function wire(av) {
  const [t, v] = Object.entries(av).filter(([, x]) => x !== undefined)[0];
  if (t === "B") return { B: b64(v) };
  if (t === "BS") return { BS: v.map(b64) };
  if (t === "M") return { M: wireMap(v) };
  if (t === "L") return { L: v.map(wire) };
  return { [t]: v };
}
const wireMap = (m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, wire(v)]));

// The documented mapping (connectors/dynamodb_item.h), written here in JS.
function plain(av) {
  const [t, v] = Object.entries(av).filter(([, x]) => x !== undefined)[0];
  switch (t) {
    case "S": return JSON.stringify(v);
    case "N": return v;
    case "BOOL": return v ? "true" : "false";
    case "NULL": return "null";
    case "B": return JSON.stringify(b64(v));
    case "M": return plainMap(v);
    case "L": return "[" + v.map(plain).join(",") + "]";
    case "SS": return "[" + v.map((s) => JSON.stringify(s)).join(",") + "]";
    case "NS": return "[" + v.join(",") + "]";
    case "BS": return "[" + v.map((b) => JSON.stringify(b64(b))).join(",") + "]";
  }
  throw new Error("unknown type " + t);
}
const plainMap = (m) =>
  "{" + Object.entries(m).map(([k, v]) => JSON.stringify(k) + ":" + plain(v)).join(",") + "}";

// unmarshall's output (numbers wrapped, sets as Set, binaries as Uint8Array) as JSON text.
function unmarshalledJson(x) {
  if (x === null) return "null";
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "boolean") return x ? "true" : "false";
  if (x instanceof Uint8Array) return JSON.stringify(b64(x));
  if (x && x.constructor && x.constructor.name === "NumberValue") return x.value;
  if (x instanceof Set || Array.isArray(x)) return "[" + [...x].map(unmarshalledJson).join(",") + "]";
  return "{" + Object.entries(x).map(([k, v]) => JSON.stringify(k) + ":" + unmarshalledJson(v)).join(",") + "}";
}

const control = (path, body) =>
  new Promise((resolve, reject) => {
    const req = http.request(`${endpoint}${path}`, { method: "POST" }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });

async function expectError(promise, name, status, what) {
  try {
    await promise;
    fail(`${what}: no error`);
  } catch (e) {
    if (e.name !== name) fail(`${what}: ${e.name} (${e.message}), want ${name}`);
    if (e.$metadata && e.$metadata.httpStatusCode !== status)
      fail(`${what}: status ${e.$metadata.httpStatusCode}, want ${status}`);
  }
}

(async () => {
  const c = client(KEY);
  const key = { policy_number: { S: "POL-100001" } };
  const found = await c.send(new GetItemCommand({ TableName: "Policies", Key: key }));
  if (JSON.stringify(wireMap(found.Item)) !== JSON.stringify(stored))
    fail("GetItem item: " + JSON.stringify(wireMap(found.Item)));
  if (plainMap(found.Item) !== converted)
    fail("C converter " + converted + "\n  documented mapping " + plainMap(found.Item));

  let unmarshall = null;
  try {
    ({ unmarshall } = require("@aws-sdk/util-dynamodb"));
  } catch (e) {
    console.log("@aws-sdk/util-dynamodb not installed: unmarshall comparison skipped");
  }
  if (unmarshall) {
    const u = unmarshalledJson(unmarshall(found.Item, { wrapNumbers: true }));
    if (u !== converted) fail("C converter " + converted + "\n  unmarshall " + u);
  }

  const absent = await c.send(
    new GetItemCommand({ TableName: "Policies", Key: { policy_number: { S: "POL-NONE" } } }),
  );
  if (absent.Item !== undefined) fail("absent item: " + JSON.stringify(absent.Item));

  await c.send(
    new PutItemCommand({
      TableName: "Policies",
      Item: { policy_number: { S: "POL-7" }, n: { N: "7" }, b: { B: new Uint8Array([1, 2]) } },
    }),
  );
  const put = await c.send(
    new GetItemCommand({ TableName: "Policies", Key: { policy_number: { S: "POL-7" } } }),
  );
  if (JSON.stringify(wireMap(put.Item)) !== '{"policy_number":{"S":"POL-7"},"n":{"N":"7"},"b":{"B":"AQI="}}')
    fail("put then get: " + JSON.stringify(wireMap(put.Item)));

  await expectError(
    c.send(new GetItemCommand({ TableName: "Missing", Key: key })),
    "ResourceNotFoundException", 400, "missing table");
  await expectError(
    c.send(new GetItemCommand({ TableName: "Policies", Key: { other: { S: "x" } } })),
    "ValidationException", 400, "wrong key attribute");

  // Throttled twice: the SDK's own retries (3 attempts) get the item.
  if ((await control("/_fake/fault", { mode: "throttle", count: 2 })) !== 200) fail("fault control");
  const retried = await c.send(new GetItemCommand({ TableName: "Policies", Key: key }));
  if (!retried.Item || retried.$metadata.attempts !== 3)
    fail("throttled twice: attempts " + retried.$metadata.attempts);
  if ((await control("/_fake/fault", { mode: "throttle", count: 0 })) !== 200) fail("fault control");
  await expectError(
    client(KEY).send(new GetItemCommand({ TableName: "Policies", Key: key })),
    "ProvisionedThroughputExceededException", 400, "throttled every time");
  await control("/_fake/fault", { mode: "" });

  await expectError(
    client({ ...KEY, secretAccessKey: "not-the-secret" }).send(
      new GetItemCommand({ TableName: "Policies", Key: key })),
    "InvalidSignatureException", 400, "wrong secret");
  await expectError(
    client({ ...KEY, accessKeyId: "AKIDOTHER" }).send(
      new GetItemCommand({ TableName: "Policies", Key: key })),
    "UnrecognizedClientException", 400, "unknown key id");

  if (failures) process.exit(1);
  console.log("DynamoDBClient and the double agree; the C converter gives the documented plain JSON");
})().catch((e) => {
  console.log("FAIL: " + (e.stack || e));
  process.exit(1);
});
