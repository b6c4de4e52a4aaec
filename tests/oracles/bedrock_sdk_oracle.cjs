// The upstream double's Bedrock mode as real AWS clients see it: @anthropic-ai/bedrock-sdk streams
// InvokeModelWithResponseStream (its own SigV4 signature, the double's event-stream frames, base64
// chunks with `p` padding, invocation metrics) and @aws-sdk/client-bedrock-runtime streams
// ConverseStream. Usage: node bedrock_sdk_oracle.cjs PORT SESSION_TOKEN
// Prints what failed; exits 1 on a failure.
"use strict";
const { AnthropicBedrock } = require("@anthropic-ai/bedrock-sdk");
const Errors = require("@anthropic-ai/bedrock-sdk/core/error.js");

const [port, sessionToken] = process.argv.slice(2);
const baseURL = `http://127.0.0.1:${port}`;
const MODEL = "anthropic.claude-3-haiku-20240307-v1:0";
const KEY_ID = "AKIDEXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const EXPECTED = process.env.PARLEY_ORACLE_EXPECT || "w1 w2 w3 w4 w5";

let failures = 0;
const fail = (m) => {
  console.log("FAIL: " + m);
  failures++;
};

function bedrock(secret) {
  return new AnthropicBedrock({
    baseURL,
    awsRegion: "us-east-1",
    awsAccessKey: KEY_ID,
    awsSecretKey: secret,
    awsSessionToken: sessionToken,
    maxRetries: 0,
    timeout: 5000,
    defaultHeaders: { "anthropic-version": "bedrock-2023-05-31" },
  });
}

// Streams one message; returns { text, final, events } or throws the SDK's error.
async function invoke(client, prompt) {
  const stream = client.messages.stream({
    model: MODEL,
    max_tokens: 64,
    messages: [{ role: "user", content: prompt }],
  });
  let text = "";
  const types = [];
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") text += ev.delta.text;
  }
  return { text, final: await stream.finalMessage(), types };
}

// Runs f, which must throw; checks the error's class and status.
async function expectError(name, f, cls, status) {
  try {
    await f();
    fail(`${name}: no error`);
    return null;
  } catch (e) {
    if (!(e instanceof cls)) fail(`${name}: ${e && e.constructor && e.constructor.name} (${e && e.message}), not ${cls.name}`);
    else if (e.status !== status) fail(`${name}: status ${e.status}, not ${status}`);
    return e;
  }
}

async function anthropicSdk() {
  const client = bedrock(SECRET);
  const r = await invoke(client, "hi [[tokens:5]]");
  if (r.text !== EXPECTED) fail(`invoke text ${JSON.stringify(r.text)}`);
  const types = r.types.join(",");
  if (types !== "message_start,content_block_start,content_block_delta,content_block_delta,content_block_delta,content_block_delta,content_block_delta,content_block_stop,message_delta,message_stop")
    fail("invoke events " + types);
  if (r.final.stop_reason !== "end_turn") fail("invoke stop reason " + r.final.stop_reason);
  if (r.final.usage.output_tokens !== 5 || !(r.final.usage.input_tokens > 0))
    fail("invoke usage " + JSON.stringify(r.final.usage));
  if (r.final.content[0].text !== EXPECTED) fail("invoke final message " + JSON.stringify(r.final.content));

  const t = await expectError("[[throttle]]", () => invoke(client, "hi [[throttle]]"), Errors.RateLimitError, 429);
  if (t && !/Too many requests/.test(t.message)) fail("[[throttle]] message: " + t.message);

  // A modelStreamErrorException frame after three deltas: an APIError (no status, in a 200
  // stream), never a short answer.
  const e = await expectError("[[stream-error]]", () => invoke(client, "hi [[tokens:5]] [[stream-error]]"), Errors.APIError, undefined);
  if (e && !/modelStreamErrorException/.test(JSON.stringify(e.error) + e.message))
    fail("[[stream-error]] error body: " + JSON.stringify(e.error));

  const d = await expectError("wrong secret", () => invoke(bedrock(SECRET.replace("EXAMPLE", "EXAMPLF")), "hi"),
    Errors.PermissionDeniedError, 403);
  if (d && !/signature/i.test(d.message)) fail("wrong secret message: " + d.message);
}

async function awsSdk() {
  const { BedrockRuntimeClient, ConverseStreamCommand } = require("@aws-sdk/client-bedrock-runtime");
  const { NodeHttpHandler } = require("@smithy/node-http-handler");
  const client = new BedrockRuntimeClient({
    region: "us-east-1",
    endpoint: baseURL,
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken },
    maxAttempts: 1,
    // HTTP/1.1 as Bedrock serves ConverseStream (the client's default handler speaks HTTP/2 for
    // its bidirectional operation, which the double does not serve).
    requestHandler: new NodeHttpHandler(),
  });
  const out = await client.send(new ConverseStreamCommand({
    modelId: MODEL,
    messages: [{ role: "user", content: [{ text: "hi [[tokens:5]]" }] }],
    inferenceConfig: { maxTokens: 64 },
  }));
  let text = "", stop = null, usage = null;
  const kinds = [];
  for await (const ev of out.stream) {
    const kind = Object.keys(ev)[0];
    kinds.push(kind);
    if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text;
    if (ev.messageStop) stop = ev.messageStop.stopReason;
    if (ev.metadata) usage = ev.metadata.usage;
  }
  if (text !== EXPECTED) fail(`converse text ${JSON.stringify(text)}`);
  if (kinds.join(",") !== "messageStart,contentBlockDelta,contentBlockDelta,contentBlockDelta,contentBlockDelta,contentBlockDelta,contentBlockStop,messageStop,metadata")
    fail("converse events " + kinds.join(","));
  if (stop !== "end_turn") fail("converse stop reason " + stop);
  if (!usage || usage.outputTokens !== 5 || !(usage.inputTokens > 0) || usage.totalTokens !== usage.inputTokens + 5)
    fail("converse usage " + JSON.stringify(usage));

  try {
    await client.send(new ConverseStreamCommand({
      modelId: MODEL, messages: [{ role: "user", content: [{ text: "hi [[throttle]]" }] }] }));
    fail("converse [[throttle]]: no error");
  } catch (e) {
    if (e.name !== "ThrottlingException" || e.$metadata.httpStatusCode !== 429)
      fail(`converse [[throttle]]: ${e.name} ${e.$metadata && e.$metadata.httpStatusCode}`);
  }
}

(async () => {
  try {
    await anthropicSdk();
    await awsSdk();
  } catch (e) {
    fail("unexpected: " + (e && e.stack));
  }
  if (failures) process.exit(1);
  console.log("bedrock sdk oracle: @anthropic-ai/bedrock-sdk invoke stream, throttle, stream error, bad signature; @aws-sdk/client-bedrock-runtime converse stream");
})();
