// The demo page (the widget shown inline) in a real browser (Debian's Chromium, driven by playwright-core): it connects,
// a typed question is acknowledged and its answer streams in word by word, exactly as stored in
// the transcript; a reload shows the conversation again (the page reconnects with its token).
// Starts its own redis-server and parleyd (offline provider). Usage: node demo_page.test.mjs
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";

const bin = process.env.PARLEY_BIN_DIR;
if (!bin) throw new Error("set PARLEY_BIN_DIR to the build folder");
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch {
  console.error("playwright-core is missing: run `npm ci` in tests/e2e (scripts/test does it)");
  process.exit(1);
}
const SECRET = "e2e-test-secret-0123456789abcdef";
const children = [];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port, child, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited early`);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
  children.push(child);
  return child;
}

const work = mkdtempSync(path.join(os.tmpdir(), "parley-e2e-"));
let browser;
let failed = false;
try {
  const redisPort = await freePort();
  const redis = start("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1",
    "--dir", work, "--save", "", "--appendonly", "yes", "--loglevel", "warning"]);
  await waitPort(redisPort, redis);
  const port = await freePort();
  const parleyd = start(path.join(bin, "parleyd"), ["--listen", `127.0.0.1:${port}`,
    "--redis", `redis://127.0.0.1:${redisPort}/0`, "--provider", "local",
    "--local-pace-ms", "20", "--allow-anonymous", "--jwt-secret", SECRET,
    "--log-level", "warn", "--log-format", "text"]);
  await waitPort(port, parleyd);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.locator(".status", { hasText: /^connected$/ }).waitFor();

  const question = "Is water damage from a burst pipe covered?";
  await page.fill("textarea", question);
  await page.press("textarea", "Enter");

  // Watch the answer grow: streaming shows many intermediate lengths, not one block.
  const lengths = new Set();
  const end = Date.now() + 15000;
  for (;;) {
    const state = await page.evaluate(() => {
      const b = document.querySelector("[data-parley-widget]").shadowRoot.querySelector(".msg.assistant");
      return b ? { text: b.textContent, typing: b.classList.contains("typing") } : null;
    });
    if (state) lengths.add(state.text.length);
    if (state && !state.typing) break;
    assert.ok(Date.now() < end, "the answer did not finish within 15 s");
    await new Promise((r) => setTimeout(r, 15));
  }
  assert.ok(lengths.size >= 4, `answer did not stream (saw ${lengths.size} lengths)`);
  const shown = await page.textContent(".msg.assistant");
  assert.equal(await page.textContent(".msg.caller"), question);
  assert.match(shown, /No AI model is configured/);

  // What the page shows is exactly what was stored.
  const token = await page.evaluate(() => sessionStorage.getItem("parley.token " + location.origin));
  const sid = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sid;
  const agent = execFileSync(path.join(bin, "parley"),
    ["token", "--role", "agent", "--sub", "e2e", "--jwt-secret", SECRET]).toString().trim();
  const res = await fetch(`http://127.0.0.1:${port}/v1/sessions/${sid}`,
    { headers: { authorization: `Bearer ${agent}` } });
  assert.equal(res.status, 200);
  const body = await res.json();
  const stored = body.transcript.filter((e) => e.role === "assistant").map((e) => e.text);
  assert.deepEqual(stored, [shown]);

  // A reload reconnects with the token and shows the conversation again.
  await page.reload();
  await page.locator(".status", { hasText: /^connected/ }).waitFor();
  await page.locator(".msg").nth(1).waitFor();
  assert.deepEqual(await page.$$eval(".msg", (els) => els.map((e) => [e.className, e.textContent])),
    [["msg caller", question], ["msg assistant", shown]]);
  assert.deepEqual(pageErrors, []);
  console.log("demo page: connected, streamed, stored and restored correctly");
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  if (browser) await browser.close();
  for (const c of children.reverse()) c.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
