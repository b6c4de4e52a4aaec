// The upstream double's embeddings mode read by openai-node and by parley's decoder: the
// client's embeddings.create (which asks for base64 and decodes little-endian float32) and the
// C decoder (embeddings_decode) reading the same reply bytes give the same vectors, bit for
// bit; asked for floats, the client gets those vectors too; the client's request is one the
// double accepts (model, input list, encoding_format). Usage:
//   node embeddings_oracle.cjs PORT DECODER WORKDIR
// Prints what failed; exits 1 on a failure.
"use strict";
const OpenAI = require("openai");
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const [port, decoder, work] = process.argv.slice(2);
let failures = 0;
const fail = (m) => {
  console.log("FAIL: " + m);
  failures++;
};

const TEXTS = [
  "my windshield cracked on the motorway",
  "Windscreen repairs\n\nA chip in the glass is repaired with no excess.",
  "Is my luggage covered when it is stolen abroad?",
];
const MODEL = "toy-embed";

async function main() {
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0, timeout: 5000 });
  // The client's default: base64 on the wire, numbers to the caller.
  const viaSdk = await client.embeddings.create({ model: MODEL, input: TEXTS });
  const sdk = viaSdk.data.slice().sort((a, b) => a.index - b.index).map((d) => d.embedding);
  if (sdk.length !== TEXTS.length) fail(`the client read ${sdk.length} vectors`);
  // The same request's reply bytes, for the C decoder.
  const raw = await fetch(`http://127.0.0.1:${port}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, input: TEXTS, encoding_format: "base64" }),
  });
  const rawText = await raw.text();
  if (!/"embedding":"[A-Za-z0-9+/=]+"/.test(rawText)) fail("the base64 reply holds no base64 embedding");
  const file = path.join(work, "reply.json");
  fs.writeFileSync(file, rawText);
  const c = JSON.parse(execFileSync(decoder, [file, String(TEXTS.length)]).toString());
  for (let i = 0; i < TEXTS.length; i++) {
    if (!c[i] || c[i].length !== sdk[i].length) {
      fail(`vector ${i}: ${c[i] && c[i].length} numbers in C, ${sdk[i].length} in the client`);
      continue;
    }
    for (let k = 0; k < sdk[i].length; k++)
      if (!Object.is(c[i][k], sdk[i][k])) {
        fail(`vector ${i}[${k}]: C ${c[i][k]}, client ${sdk[i][k]}`);
        break;
      }
  }
  // Asked for floats: the same vectors (float32 values written as JSON numbers).
  const viaFloat = await client.embeddings.create({ model: MODEL, input: TEXTS, encoding_format: "float" });
  viaFloat.data.forEach((d) => {
    const want = sdk[d.index];
    if (!want || d.embedding.some((x, k) => Math.fround(x) !== want[k])) fail(`float vector ${d.index} differs`);
  });
  // A single string input and dimensions are accepted too.
  const one = await client.embeddings.create({ model: MODEL, input: TEXTS[0], dimensions: 64 });
  if (one.data.length !== 1 || one.data[0].embedding.length !== 64) fail("one input with dimensions 64");
  // The double logged what the client sent: base64 unless told otherwise.
  const log = fs.readFileSync(path.join(work, "log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const first = log.find((e) => e.path === "/v1/embeddings");
  if (!first || first.body.encoding_format !== "base64" || first.behaviour !== "embeddings")
    fail(`the client's first request: ${JSON.stringify(first && first.body)}`);
  if (failures === 0) console.log(`embeddings oracle: ${TEXTS.length} vectors of ${sdk[0].length} agree`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log("FAIL: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
