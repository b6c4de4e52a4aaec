// Generates the event-stream frames of this folder with the AWS SDK's own codec
// (@smithy/eventstream-codec), the oracle for connectors/aws_eventstream.c. See README.md.
"use strict";
const fs = require("fs");
const path = require("path");
const { EventStreamCodec, Int64 } = require("@smithy/eventstream-codec");
const { toUtf8, fromUtf8 } = require("@smithy/util-utf8");

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (v) => ({ type: "string", value: v });
const frames = {};

// The Bedrock chunk of the golden frame: an Anthropic event, base64 in {"bytes": ...}.
const inner = JSON.stringify({ type: "content_block_delta", index: 0,
  delta: { type: "text_delta", text: "Hi" } });
frames["chunk.bin"] = codec.encode({
  headers: { ":event-type": str("chunk"), ":content-type": str("application/json"),
    ":message-type": str("event") },
  body: fromUtf8(JSON.stringify({ bytes: Buffer.from(inner).toString("base64") })) });

// Every header value type, in wire order 0..9 (bool true, bool false, ..., uuid).
frames["all_types.bin"] = codec.encode({
  headers: {
    t: { type: "boolean", value: true },
    f: { type: "boolean", value: false },
    byte: { type: "byte", value: -5 },
    short: { type: "short", value: -1234 },
    int: { type: "integer", value: 123456789 },
    long: { type: "long", value: Int64.fromNumber(-1234567890123) },
    bin: { type: "binary", value: new Uint8Array([0, 1, 2, 0xfe, 0xff]) },
    ":content-type": str("text/plain"),
    ts: { type: "timestamp", value: new Date(1764468000123) },
    id: { type: "uuid", value: "01234567-89ab-cdef-0123-456789abcdef" },
  },
  body: fromUtf8("payload") });

frames["throttling.bin"] = codec.encode({
  headers: { ":exception-type": str("throttlingException"),
    ":content-type": str("application/json"), ":message-type": str("exception") },
  body: fromUtf8(JSON.stringify({ message: "Too many requests, please wait before trying again." })) });

frames["model_stream_error.bin"] = codec.encode({
  headers: { ":exception-type": str("modelStreamErrorException"),
    ":content-type": str("application/json"), ":message-type": str("exception") },
  body: fromUtf8(JSON.stringify({ message: "The model failed mid-stream", originalStatusCode: 500,
    originalMessage: "boom" })) });

frames["error.bin"] = codec.encode({
  headers: { ":error-code": str("InternalFailure"), ":error-message": str("unmodelled failure"),
    ":message-type": str("error") },
  body: new Uint8Array(0) });

// The test vector of the event-stream specification: no headers.
frames["no_headers.bin"] = codec.encode({ headers: {}, body: fromUtf8('{"foo": "bar"}') });

const dir = process.argv[2] || __dirname;
for (const [name, bytes] of Object.entries(frames)) {
  codec.decode(bytes); // the oracle reads back what it wrote
  fs.writeFileSync(path.join(dir, name), bytes);
  console.log(name, bytes.length, Buffer.from(bytes).toString("hex"));
}
