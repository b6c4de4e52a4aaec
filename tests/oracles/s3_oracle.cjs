// The S3 pieces of `parley kb sync` held to AWS's own JavaScript code (PROTOCOLS.md 6E, 6I).
//   node s3_oracle.cjs sign COUNT SEED   S3 requests (ListObjectsV2 with continuation tokens,
//       GetObject of awkward keys) signed by @smithy/signature-v4 as the S3 client configures it
//       (service s3, path not escaped again, x-amz-content-sha256), printed for sigv4_compare to
//       check the C signer byte for byte.
//   node s3_oracle.cjs sdk FAKE_S3 WORKDIR   @aws-sdk/client-s3 against the double (fake_s3):
//       the double must accept the SDK's signatures, and the SDK must read the double's listing
//       (over several pages), objects and errors as S3's: the same keys, ETags and bodies as the
//       files served, and the error names S3 gives.
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { spawn } = require("child_process");

const hex = (s) => Buffer.from(s).toString("hex");
// RFC 3986 encoding, as the SDKs encode a query value or a key's segment.
const escapeUri = (s) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

async function sign(count, seed) {
    const { SignatureV4, getCanonicalHeaders, getPayloadHash } = require("@smithy/signature-v4");
    const { HttpRequest } = require("@smithy/protocol-http");
    const { Sha256 } = require("@aws-crypto/sha256-js");
    let state = seed >>> 0;
    const rand = () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const int = (n) => Math.floor(rand() * n);
    const pick = (a) => a[int(a.length)];
    const chars = (alphabet, min, max) => {
        let s = "";
        for (let i = min + int(max - min + 1); i > 0; i--) s += pick(alphabet);
        return s;
    };
    const ALNUM = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"];
    const B64 = [...ALNUM, "+", "/", "="];
    const KEY = [...ALNUM, " ", "/", "-", "_", ".", "&", "+", "=", "'", "(", "!", "~", "é", "ü", "ሴ", "😀"];
    const out = [];
    for (let i = 0; i < count; i++) {
        const region = pick(["us-east-1", "eu-west-2", "ap-southeast-2"]);
        const pathStyle = rand() < 0.5;
        const host = pathStyle ? pick(["127.0.0.1:9000", `s3.${region}.amazonaws.com`]) : `docs.s3.${region}.amazonaws.com`;
        const base = pathStyle ? "/docs" : "";
        let wirePath, query = {}, wireQuery = [];
        if (i % 2 === 0) { // ListObjectsV2, as the CLI sends it (names sorted)
            wirePath = base || "/";
            const token = i % 4 === 0 ? "a+b/c=" : chars(B64, 8, 120);
            const prefix = chars(KEY, 0, 30);
            if (rand() < 0.8) query["continuation-token"] = token;
            query["list-type"] = "2";
            if (prefix) query.prefix = prefix;
            wireQuery = Object.keys(query).sort().map((k) => `${k}=${escapeUri(query[k])}`);
        } else { // GetObject of a key
            const key = chars(KEY, 1, 60).replace(/^\/+/, "") || "k";
            wirePath = `${base}/${key.split("/").map(escapeUri).join("/")}`;
        }
        const credentials = {
            accessKeyId: pick(["AKIA", "ASIA"]) + chars([..."ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"], 16, 16),
            secretAccessKey: chars(B64.filter((c) => c !== "="), 40, 40),
        };
        if (rand() < 0.5) credentials.sessionToken = chars(B64, 20, 400);
        const time = 946684800 + int(2147483647 - 946684800);
        const signer = new SignatureV4({ service: "s3", region, sha256: Sha256, credentials,
                                         uriEscapePath: false, applyChecksum: true });
        const headers = { host };
        const request = new HttpRequest({ method: "GET", protocol: "https:", hostname: host.split(":")[0],
                                          path: wirePath, query, headers: { ...headers } });
        const signed = await signer.sign(request, { signingDate: new Date(time * 1000) });
        const payloadHash = await getPayloadHash(signed, Sha256);
        const creq = signer.createCanonicalRequest(signed, getCanonicalHeaders(signed), payloadHash);
        const longDate = signed.headers["x-amz-date"];
        const scope = `${longDate.slice(0, 8)}/${region}/s3/aws4_request`;
        const sts = await signer.createStringToSign(longDate, scope, creq, "AWS4-HMAC-SHA256");
        const rec = [`case ${i}`, "method GET", "service s3", "s3 1", `region ${hex(region)}`,
                     `path ${hex(wirePath)}`, `query ${hex(wireQuery.join("&"))}`, `time ${time}`,
                     "checksum 1", `akid ${hex(credentials.accessKeyId)}`,
                     `secret ${hex(credentials.secretAccessKey)}`,
                     `token ${hex(credentials.sessionToken || "")}`, "body "];
        for (const [k, v] of Object.entries(headers)) rec.push(`header ${hex(k)} ${hex(v)}`);
        for (const [k, v] of Object.entries(signed.headers))
            if (!(k in headers)) rec.push(`added ${hex(k)} ${hex(v)}`);
        rec.push(`creq ${hex(creq)}`, `sts ${hex(sts)}`, "end");
        out.push(rec.join("\n"));
    }
    process.stdout.write(out.join("\n") + "\n");
}

function check(cond, what) {
    if (!cond) throw new Error("S3 oracle: " + what);
}

async function sdk(fakeS3, work) {
    const { S3Client, ListObjectsV2Command, GetObjectCommand } = require("@aws-sdk/client-s3");
    fs.rmSync(work, { recursive: true, force: true });
    const dir = path.join(work, "bucket");
    const files = {
        "kb/motor-glass.md": "# Windscreen\n\nA cracked windscreen is repaired.\n",
        "kb/Q&A <home> 'x'.md": "# Q&A\n",
        "kb/café ü.txt": "Café cover.\n",
        "kb/a+b=c.md": "plus and equals\n",
        "kb/sp ace/deep.html": "<p>deep</p>",
        "kb/empty.txt": "",
        "other/outside.md": "# not under kb/\n",
    };
    for (const [k, v] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, k)), { recursive: true });
        fs.writeFileSync(path.join(dir, k), v);
    }
    const ready = path.join(work, "port");
    const child = spawn(fakeS3, ["--dir", dir, "--port", "0", "--ready-file", ready, "--region", "eu-west-2",
                                 "--page-size", "2", "--log", path.join(work, "requests"),
                                 "--deny-bucket", "secret-docs"],
                        { stdio: ["ignore", "inherit", "inherit"] });
    try {
        for (let i = 0; i < 200 && !(fs.existsSync(ready) && fs.readFileSync(ready, "utf8").trim()); i++)
            await new Promise((r) => setTimeout(r, 25));
        const port = fs.readFileSync(ready, "utf8").trim();
        const creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
        const client = (region, credentials) =>
            new S3Client({ endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, region, credentials,
                           maxAttempts: 1 });
        const s3 = client("eu-west-2", creds);

        // The listing, page by page, against the files (S3 orders keys by their UTF-8 bytes).
        const want = Object.keys(files).filter((k) => k.startsWith("kb/"))
            .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const got = [];
        let token, pages = 0;
        do {
            const r = await s3.send(new ListObjectsV2Command({ Bucket: "docs", Prefix: "kb/", ContinuationToken: token }));
            pages++;
            for (const o of r.Contents || []) got.push(o);
            check(r.KeyCount === (r.Contents || []).length, `KeyCount ${r.KeyCount} on page ${pages}`);
            token = r.IsTruncated ? r.NextContinuationToken : undefined;
            check(!r.IsTruncated || token, "truncated without a token");
        } while (token);
        check(pages === 3, `${pages} pages, expected 3`);
        check(JSON.stringify(got.map((o) => o.Key)) === JSON.stringify(want),
              `keys ${JSON.stringify(got.map((o) => o.Key))}, expected ${JSON.stringify(want)}`);
        for (const o of got) {
            const body = fs.readFileSync(path.join(dir, o.Key));
            const etag = `"${crypto.createHash("md5").update(body).digest("hex")}"`;
            check(o.ETag === etag, `${o.Key}: ETag ${o.ETag}, expected ${etag}`);
            check(o.Size === body.length, `${o.Key}: Size ${o.Size}`);
            check(o.LastModified instanceof Date && !isNaN(o.LastModified), `${o.Key}: LastModified`);
            const g = await s3.send(new GetObjectCommand({ Bucket: "docs", Key: o.Key }));
            const bytes = Buffer.from(await g.Body.transformToByteArray());
            check(bytes.equals(body), `${o.Key}: body differs`);
            check(g.ETag === etag, `${o.Key}: GetObject ETag ${g.ETag}`);
        }
        // Errors, as the SDK names them from the double's XML.
        const fails = async (c, cmd, name, status) => {
            try {
                await c.send(cmd);
            } catch (e) {
                check(e.name === name && e.$metadata.httpStatusCode === status,
                      `expected ${name} ${status}, got ${e.name} ${e.$metadata && e.$metadata.httpStatusCode}`);
                return;
            }
            throw new Error(`S3 oracle: expected ${name}, the request succeeded`);
        };
        await fails(s3, new ListObjectsV2Command({ Bucket: "nope" }), "NoSuchBucket", 404);
        await fails(s3, new ListObjectsV2Command({ Bucket: "secret-docs" }), "AccessDenied", 403);
        await fails(s3, new GetObjectCommand({ Bucket: "docs", Key: "kb/missing.md" }), "NoSuchKey", 404);
        await fails(client("eu-west-2", { ...creds, secretAccessKey: "wrong" }),
                    new ListObjectsV2Command({ Bucket: "docs" }), "SignatureDoesNotMatch", 403);
        await fails(client("eu-west-2", { ...creds, accessKeyId: "AKIDUNKNOWN" }),
                    new ListObjectsV2Command({ Bucket: "docs" }), "InvalidAccessKeyId", 403);
        await fails(client("us-west-2", creds), new ListObjectsV2Command({ Bucket: "docs" }),
                    "PermanentRedirect", 301);
        console.log(`S3 SDK: ${got.length} keys over ${pages} pages, their ETags and bodies, and 6 errors read alike`);
    } finally {
        child.kill("SIGTERM");
    }
}

const [mode, a, b] = process.argv.slice(2);
(mode === "sign" ? sign(Number(a || 100), Number(b || 1)) : sdk(a, b)).catch((e) => {
    console.error(e.stack || String(e));
    process.exit(1);
});
