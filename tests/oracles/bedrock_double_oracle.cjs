// The upstream double's Bedrock mode against the AWS SDK's own code: its frames decoded by
// @smithy/eventstream-codec (which checks both CRCs), and its signature check fed requests signed
// by @smithy/signature-v4 (x-amz-content-sha256 and a session token signed, the model id's %3A
// encoded once more in the canonical path), so the double is not only checked against the C
// signer it verifies with. node bedrock_double_oracle.cjs PORT SESSION_TOKEN CONVERSE INVOKE
// BAD_CRC (files holding the de-chunked bodies of a converse answer, an invoke answer and a
// [[bad-crc]] converse answer, each of the tokens "w1 w2 w3"). Exits 1 on a failure.
"use strict";
const fs = require("fs");
const { EventStreamCodec } = require("@smithy/eventstream-codec");
const { toUtf8, fromUtf8 } = require("@smithy/util-utf8");

const codec = new EventStreamCodec(toUtf8, fromUtf8);
let failures = 0;
const fail = (m) => {
  console.log("FAIL: " + m);
  failures++;
};

// Split a body into frames by their length prefix and decode each with the codec.
function decodeAll(buf) {
  const out = [];
  for (let off = 0; off < buf.length; ) {
    const len = buf.readUInt32BE(off);
    const msg = codec.decode(new Uint8Array(buf.subarray(off, off + len)));
    const headers = {};
    for (const [k, v] of Object.entries(msg.headers)) headers[k] = v.value;
    out.push({ headers, body: JSON.parse(toUtf8(msg.body)) });
    off += len;
  }
  return out;
}

const [port, sessionToken, conversePath, invokePath, badCrcPath] = process.argv.slice(2);

const conv = decodeAll(fs.readFileSync(conversePath));
const types = conv.map((f) => f.headers[":event-type"]).join(",");
if (types !== "messageStart,contentBlockDelta,contentBlockDelta,contentBlockDelta,contentBlockStop,messageStop,metadata")
  fail("converse event types: " + types);
for (const f of conv) {
  if (f.headers[":message-type"] !== "event" || f.headers[":content-type"] !== "application/json")
    fail("converse headers: " + JSON.stringify(f.headers));
}
const text = conv.filter((f) => f.body.delta).map((f) => f.body.delta.text).join("");
if (text !== "w1 w2 w3") fail("converse text: " + text);
if (conv[5].body.stopReason !== "end_turn") fail("converse stop reason");
if (!(conv[6].body.usage.outputTokens === 3 && conv[6].body.usage.inputTokens > 0))
  fail("converse usage: " + JSON.stringify(conv[6].body));

const inv = decodeAll(fs.readFileSync(invokePath));
const inner = inv.map((f) => {
  if (f.headers[":event-type"] !== "chunk") fail("invoke event type " + f.headers[":event-type"]);
  if (typeof f.body.p !== "string") fail("invoke chunk without p padding");
  return JSON.parse(Buffer.from(f.body.bytes, "base64").toString("utf8"));
});
const innerTypes = inner.map((e) => e.type).join(",");
if (innerTypes !== "message_start,content_block_start,content_block_delta,content_block_delta,content_block_delta,content_block_stop,message_delta,message_stop")
  fail("invoke inner types: " + innerTypes);
const itext = inner.filter((e) => e.delta && e.delta.text !== undefined).map((e) => e.delta.text).join("");
if (itext !== "w1 w2 w3") fail("invoke text: " + itext);
const metrics = inner[inner.length - 1]["amazon-bedrock-invocationMetrics"];
if (!metrics || metrics.outputTokenCount !== 3) fail("invoke metrics: " + JSON.stringify(metrics));

let threw = false;
try {
  decodeAll(fs.readFileSync(badCrcPath));
} catch (e) {
  threw = /checksum/i.test(String(e.message));
}
if (!threw) fail("a [[bad-crc]] answer decoded without a checksum error");

// POST a body signed by @smithy/signature-v4 (with these credentials); resolves to the status.
async function signedPost(path, body, secret) {
  const { SignatureV4 } = require("@smithy/signature-v4");
  const { HttpRequest } = require("@smithy/protocol-http");
  const { Sha256 } = require("@aws-crypto/sha256-js");
  const http = require("http");
  const signer = new SignatureV4({
    service: "bedrock",
    region: "us-east-1",
    sha256: Sha256,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret, sessionToken },
  });
  const req = await signer.sign(
    new HttpRequest({
      method: "POST",
      protocol: "http:",
      hostname: "127.0.0.1",
      port: Number(port),
      path,
      headers: { host: "127.0.0.1:" + port, "content-type": "application/json", accept: "application/vnd.amazon.eventstream" },
      body,
    })
  );
  return new Promise((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", port: Number(port), method: "POST", path, headers: req.headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    r.on("error", reject);
    r.end(body);
  });
}

(async () => {
  const path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream";
  const body = JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi [[tokens:2]]" }] }] });
  const ok = await signedPost(path, body, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  if (ok.status !== 200) fail("smithy-signed request refused: " + ok.status + " " + ok.body);
  else {
    const t = decodeAll(ok.body).filter((f) => f.body.delta).map((f) => f.body.delta.text).join("");
    if (t !== "w1 w2") fail("smithy-signed request answered " + t);
  }
  const bad = await signedPost(path, body, "not-the-secret");
  if (bad.status !== 403 || !/does not match/.test(bad.body)) fail("a wrong secret got " + bad.status);
  if (failures) process.exit(1);
  console.log("bedrock double oracle: frames as @smithy/eventstream-codec reads them, signatures as @smithy/signature-v4 makes them");
})().catch((e) => {
  console.log("FAIL: " + e);
  process.exit(1);
});
