// The upstream double's Bedrock frames decoded by @smithy/eventstream-codec (the AWS SDK's own
// decoder, which checks both CRCs): node eventstream_oracle.cjs CONVERSE INVOKE BAD_CRC
// (files holding the de-chunked bodies of a converse answer, an invoke answer and a [[bad-crc]]
// converse answer, each of the tokens "w1 w2 w3"). Prints what failed; exits 1 on a failure.
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

const [conversePath, invokePath, badCrcPath] = process.argv.slice(2);

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

if (failures) process.exit(1);
console.log("eventstream oracle: converse, invoke and bad-crc frames as @smithy/eventstream-codec reads them");
