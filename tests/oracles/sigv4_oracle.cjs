// Signs randomised Bedrock-like requests with AWS's own JavaScript signer (@smithy/signature-v4,
// with the pure-JS SHA-256 of @aws-crypto/sha256-js) and prints, for each, the inputs and what
// the signer produced, one "key hex(value)" per line, for sigv4_compare (the C signer) to
// check byte for byte. Usage: node sigv4_oracle.cjs COUNT SEED
"use strict";
const { SignatureV4, getCanonicalHeaders, getPayloadHash } = require("@smithy/signature-v4");
const { HttpRequest } = require("@smithy/protocol-http");
const { Sha256 } = require("@aws-crypto/sha256-js");

const count = Number(process.argv[2] || 200);
let state = Number(process.argv[3] || 1) >>> 0;

// mulberry32: the same seed gives the same requests, so a failure can be replayed.
function rand() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const chars = (alphabet, min, max) => {
    let s = "";
    for (let i = min + int(max - min + 1); i > 0; i--) s += pick(alphabet);
    return s;
};
const ALNUM = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"];
const B64 = [...ALNUM, "+", "/", "="];
const VALUE = [...ALNUM, " ", " ", " ", "\t", "-", "_", ".", ":", ";", ",", "/", "\"", "=", "(", ")"];
const QUERY = [...ALNUM, " ", "+", "/", "=", "&", "%", ":", "~", "*", "!", "'", "é", "ሴ"];

// RFC 3986 encoding as the AWS SDKs encode a URI label or query part.
const escapeUri = (s) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
// The same, sometimes with lower-case hex or an unreserved byte escaped: the wire form varies.
const wireEscape = (s) => {
    let e = escapeUri(s);
    if (rand() < 0.3) e = e.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    if (rand() < 0.2) e = e.replace(/~/g, "%7E");
    return e;
};
const hex = (s) => Buffer.from(s).toString("hex");

function modelId(region) {
    const account = chars([..."0123456789"], 12, 12);
    const version = `-v${1 + int(3)}:${int(3)}`;
    const base = pick(["anthropic.claude-3-haiku-20240307", "anthropic.claude-sonnet-4-5-20250929",
                       "meta.llama3-70b-instruct", "mistral.mistral-large-2407", "amazon.nova-pro",
                       "cohere.command-r-plus"]) + (rand() < 0.2 ? chars(ALNUM, 1, 6) : "");
    switch (int(4)) {
    case 0: return base + version;
    case 1: return pick(["us.", "eu.", "apac.", "global."]) + base + version;
    case 2: return `arn:aws:bedrock:${region}:${account}:inference-profile/us.${base}${version}`;
    default: return `arn:aws:bedrock:${region}::foundation-model/${base}${version}`;
    }
}

function genericPath() {
    const segs = [];
    for (let i = int(6); i >= 0; i--)
        segs.push(pick(["a", "b c", "%41", ".", "..", "", "x:y", "~_-.", "é", "v1%3A0", "*"]));
    return "/" + segs.join("/") + (rand() < 0.3 ? "/" : "");
}

const HEADER_NAMES = ["accept", "Content-Type", "X-Amzn-Bedrock-Accept", "x-amzn-bedrock-trace",
    "X-Amzn-Bedrock-GuardrailIdentifier", "x-amzn-bedrock-guardrailversion",
    "x-amzn-bedrock-performanceconfig-latency", "X-Amzn-Bedrock-Request-Metadata", "User-Agent",
    "x-amzn-trace-id", "Proxy-Thing", "sec-fetch-mode", "Connection", "x-amz-user-agent",
    "amz-sdk-invocation-id", "amz-sdk-request", "content-length", "x-custom"];

async function one(i) {
    const region = pick(["us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1"]);
    let path, model = null;
    if (rand() < 0.8) {
        model = modelId(region);
        path = "/model/" + escapeUri(model) + "/" +
               pick(["converse-stream", "invoke-with-response-stream", "invoke", "converse"]);
    } else {
        path = genericPath();
    }
    const query = {};
    const wireQuery = [];
    for (let n = rand() < 0.7 ? 0 : 1 + int(5); n > 0; n--) {
        const k = chars(QUERY, 0, 6);
        if (k.toLowerCase() === "x-amz-signature") continue;
        const v = chars(QUERY, 0, 8);
        query[k] = k in query ? [].concat(query[k], v) : v;
        // "k" alone means "k="; an empty name keeps its "=" (an empty piece is no parameter).
        wireQuery.push(v === "" && k !== "" && rand() < 0.5 ? wireEscape(k) : wireEscape(k) + "=" + wireEscape(v));
    }
    const host = `bedrock-runtime.${region}.amazonaws.com`;
    const headers = { host };
    const used = new Set(["host"]);
    for (let n = int(8); n > 0; n--) {
        let name = pick(HEADER_NAMES);
        if (name === "x-custom") name = "x-custom-" + chars(ALNUM, 1, 8);
        if (used.has(name.toLowerCase())) continue;
        used.add(name.toLowerCase());
        headers[name] = chars(VALUE, 0, 40);
    }
    let body;
    if (rand() < 0.5) {
        body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 1 + int(4096),
                                messages: [{ role: "user", content: chars(VALUE, 0, 200) }] });
    } else {
        body = Buffer.from(Array.from({ length: int(600) }, () => int(256)));
    }
    const credentials = {
        accessKeyId: pick(["AKIA", "ASIA"]) + chars([..."ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"], 16, 16),
        secretAccessKey: chars(B64.filter((c) => c !== "="), 40, 40),
    };
    if (rand() < 0.5) credentials.sessionToken = chars(B64, 20, 800);
    const applyChecksum = rand() < 0.5;
    const time = 946684800 + int(2147483647 - 946684800);

    const signer = new SignatureV4({ service: "bedrock", region, sha256: Sha256, applyChecksum,
                                     credentials });
    const request = new HttpRequest({ method: "POST", protocol: "https:", hostname: host, path,
                                      query, headers: { ...headers }, body });
    const signed = await signer.sign(request, { signingDate: new Date(time * 1000) });
    // The canonical request and string to sign, rebuilt with the signer's own exported steps.
    const payloadHash = await getPayloadHash(signed, Sha256);
    const creq = signer.createCanonicalRequest(signed, getCanonicalHeaders(signed), payloadHash);
    const longDate = signed.headers["x-amz-date"];
    const scope = `${longDate.slice(0, 8)}/${region}/bedrock/aws4_request`;
    const sts = await signer.createStringToSign(longDate, scope, creq, "AWS4-HMAC-SHA256");

    const out = [`case ${i}`, `region ${hex(region)}`, `path ${hex(path)}`,
                 `query ${hex(wireQuery.join("&"))}`, `time ${time}`, `checksum ${applyChecksum ? 1 : 0}`,
                 `akid ${hex(credentials.accessKeyId)}`, `secret ${hex(credentials.secretAccessKey)}`,
                 `token ${hex(credentials.sessionToken || "")}`, `body ${Buffer.from(body).toString("hex")}`];
    if (model) out.push(`model ${hex(model)}`);
    for (const [k, v] of Object.entries(headers)) out.push(`header ${hex(k)} ${hex(v)}`);
    for (const [k, v] of Object.entries(signed.headers))
        if (!(k in headers)) out.push(`added ${hex(k)} ${hex(v)}`);
    out.push(`creq ${hex(creq)}`, `sts ${hex(sts)}`, "end");
    return out.join("\n");
}

(async () => {
    for (let i = 0; i < count; i++) process.stdout.write((await one(i)) + "\n");
})().catch((e) => {
    console.error(e);
    process.exit(1);
});
