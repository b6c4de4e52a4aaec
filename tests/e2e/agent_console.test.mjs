// The agent console (/agent) in Debian's Chromium, against a server without the agent WebSocket:
// it loads, asks for an agent token (or takes it from the URL fragment, which it removes from
// the address bar), and when /v1/agent is refused it says the agent desk is not available on
// this server instead of retrying forever. When parleyd itself has no /v1/agent the console is
// tested against parleyd; when it has one, against a front that serves parleyd's pages and
// refuses that WebSocket as such a server does (404). Screenshots go to
// PARLEY_ARTIFACTS_DIR/agent_console. Usage: node agent_console.test.mjs
import assert from "node:assert/strict";
import http from "node:http";
import { Stack, loadChromium, runSteps } from "./harness.mjs";

const chromium = await loadChromium();
const stack = new Stack("agent_console");
const redisPort = await stack.redis();
const parleyd = await stack.parleyd(redisPort);

// The status parleyd answers a WebSocket handshake on /v1/agent with (101: it has the desk).
function agentHandshake(port) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/v1/agent", headers: {
      connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-protocol": "parley.agent.v1" } });
    req.on("upgrade", (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on("response", (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", reject);
    req.end();
  });
}
let base = parleyd.url;
if (await agentHandshake(parleyd.port) === 101) {
  const front = await stack.http(async (req, res) => {
    const r = await fetch(parleyd.url + req.url);
    res.writeHead(r.status, { "content-type": r.headers.get("content-type") || "text/plain" });
    res.end(Buffer.from(await r.arrayBuffer()));
  }, (req, socket) => socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"));
  base = front.origin;
  console.log("parleyd has /v1/agent: testing against a front that refuses it");
}
assert.equal(await agentHandshake(Number(new URL(base).port)), 404);
const token = stack.token("agent", "ada");

const browser = await stack.browser(chromium);
const page = await browser.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
let agentSockets = 0;
page.on("websocket", (ws) => { if (ws.url().endsWith("/v1/agent")) agentSockets++; });

await runSteps(stack, [
  ["agent_console_asks_for_token", async () => {
    const res = await page.goto(`${base}/agent`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()["content-type"], /^text\/html/);
    await page.getByLabel("Agent token").waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), "token");
    assert.equal(await page.isVisible("#desk"), false);
    assert.equal(await page.textContent("#status"), "not connected");
    assert.equal(agentSockets, 0, "no socket before a token is given");
    await stack.screenshot(page, "asks-for-token");
  }],

  ["agent_console_not_available", async () => {
    await page.getByLabel("Agent token").fill(token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Agent desk not available on this server" }).waitFor();
    assert.equal(await page.textContent("#status"), "agent desk not available");
    assert.equal(await page.evaluate(() => document.activeElement.id), "retry");
    assert.equal(await page.isVisible("#desk"), false);
    assert.equal(agentSockets, 1, "one attempt, no retry loop");
    await stack.screenshot(page, "not-available");
    // Try again makes one more attempt, with the same result.
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.getElementById("status").textContent === "agent desk not available");
    assert.equal(agentSockets, 2);
  }],

  ["agent_console_token_from_fragment", async () => {
    await page.goto("about:blank");
    await page.goto(`${base}/agent#token=${token}`);
    await page.getByRole("heading", { name: "Agent desk not available on this server" }).waitFor();
    assert.equal(new URL(page.url()).hash, "", "the token left the address bar");
    assert.equal(await page.isVisible("#login"), false);
    await stack.screenshot(page, "fragment-token-not-available");
    assert.deepEqual(pageErrors, []);
  }],
]);
