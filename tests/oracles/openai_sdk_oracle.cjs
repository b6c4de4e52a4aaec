// The upstream double's OpenAI mode as the official client reads it: openai-node streams chat
// completions (exact text, finish reason, the usage chunk) and raises its error classes for an
// in-stream error and a 429. Usage: node openai_sdk_oracle.cjs PORT API_KEY
// Prints what failed; exits 1 on a failure.
"use strict";
const OpenAI = require("openai");
const { APIError, RateLimitError, AuthenticationError } = OpenAI;

const [port, apiKey] = process.argv.slice(2);
const EXPECTED = process.env.PARLEY_ORACLE_EXPECT || "w1 w2 w3 w4 w5";

let failures = 0;
const fail = (m) => {
  console.log("FAIL: " + m);
  failures++;
};

const client = (key) => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: key, maxRetries: 0, timeout: 5000 });

// Streams one answer as a provider would ask for it; returns what the client parsed.
async function chat(c, prompt) {
  const stream = await c.chat.completions.create({
    model: "oracle-model",
    messages: [{ role: "system", content: "Be brief." }, { role: "user", content: prompt }],
    max_tokens: 64,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    for (const choice of chunk.choices) {
      if (choice.delta && choice.delta.content) text += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (chunk.usage) {
      if (chunk.choices.length !== 0) fail("usage on a chunk with choices");
      usage = chunk.usage;
    }
  }
  return { text, finish, usage, chunks };
}

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

(async () => {
  try {
    const c = client(apiKey);
    const r = await chat(c, "hi [[tokens:5]]");
    if (r.text !== EXPECTED) fail(`text ${JSON.stringify(r.text)}`);
    if (r.finish !== "stop") fail("finish reason " + r.finish);
    // role chunk, 5 content chunks, finish chunk, usage chunk
    if (r.chunks !== 8) fail("chunks " + r.chunks);
    if (!r.usage || r.usage.completion_tokens !== 5 || !(r.usage.prompt_tokens > 0) ||
        r.usage.total_tokens !== r.usage.prompt_tokens + 5)
      fail("usage " + JSON.stringify(r.usage));

    const m = await chat(c, "hi [[max-tokens]]");
    if (m.finish !== "length") fail("[[max-tokens]] finish reason " + m.finish);

    // An error inside the 200 stream: APIError without a status, never a short answer.
    const e = await expectError("[[error-mid]]", () => chat(c, "hi [[tokens:5]] [[error-mid]]"), APIError, undefined);
    if (e && !/Overloaded/.test(e.message)) fail("[[error-mid]] message: " + e.message);

    const t = await expectError("[[429]]", () => chat(c, "hi [[429]]"), RateLimitError, 429);
    if (t && (t.headers.get("retry-after") !== "1" || t.code !== "rate_limit_exceeded"))
      fail(`[[429]]: retry-after ${t.headers.get("retry-after")}, code ${t.code}`);

    await expectError("wrong key", () => chat(client("sk-wrong"), "hi"), AuthenticationError, 401);
  } catch (e) {
    fail("unexpected: " + (e && e.stack));
  }
  if (failures) process.exit(1);
  console.log("openai sdk oracle: text, finish reasons, usage chunk, in-stream error, 429, wrong key");
})();
