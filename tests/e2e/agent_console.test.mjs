// The agent console (/agent) in Debian's Chromium, against a server without the agent WebSocket:
// it loads, asks for an agent token (or takes it from the URL fragment, which it removes from
// the address bar), and when /v1/agent is refused it says the agent desk is not available on
// this server instead of retrying forever. When parleyd itself has no /v1/agent the console is
// tested against parleyd; when it has one, against a front that serves parleyd's pages and
// refuses that WebSocket as such a server does (404). Screenshots go to
// PARLEY_ARTIFACTS_DIR/agent_console.
// Then the console against a protocol double of the agent desk (this test's WebSocket server
// speaking parley.agent.v1 as docs/protocol.md describes it, serving parleyd's pages): the list
// ordering and badges, a watched answer streaming, text that holds HTML shown as text, and the
// takeover / say / release frames with the handoff packet and the timeline. The same flow against
// real parleyd instances is the desk's own integration test (tests/integration).
// Usage: node agent_console.test.mjs
import assert from "node:assert/strict";
import http from "node:http";
import { Stack, acceptWebSocket, loadChromium, runSteps, until } from "./harness.mjs";

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

// The protocol double: one session, whose watch streams an answer; records every frame.
const SID = { bot: "a".repeat(32), old: "b".repeat(32), young: "c".repeat(32), agent: "d".repeat(32), fresh: "e".repeat(32) };
const EVIL = "<img src=x onerror=window.__pwned=1>";
const deskFrames = [];
const desk = await stack.http(async (req, res) => {
  const r = await fetch(parleyd.url + req.url);
  res.writeHead(r.status, { "content-type": r.headers.get("content-type") || "text/plain" });
  res.end(Buffer.from(await r.arrayBuffer()));
}, (req, socket) => {
  if (req.url !== "/v1/agent") return socket.destroy();
  const ws = acceptWebSocket(req, socket, "parley.agent.v1", (m) => {
    deskFrames.push(m);
    const sid = m.session_id;
    const ev = (o) => ws.send({ session_id: sid, ...o });
    switch (m.type) {
    case "hello":
      if (m.token === token) ws.send({ type: "ready", agent: "ada", role: "agent", max_watches: 8 });
      else ws.send({ type: "error", code: "forbidden", message: "an agent or admin token is needed", retryable: false });
      break;
    case "list":
      ws.send({ type: "sessions", sessions: [
        { session_id: SID.bot, channel: "web", state: "bot", caller: { name: "Ada" }, updated: 3000, last_text: EVIL },
        { session_id: SID.young, channel: "lex", state: "waiting_agent", caller: { name: "Bo" }, updated: 2000, reason: "asked for a person" },
        { session_id: SID.old, channel: "connect", state: "waiting_agent", caller: { name: "Cy" }, updated: 1000, reason: "the bot did not know twice" },
        { session_id: SID.agent, channel: "web", state: "agent", caller: { name: "Di" }, updated: 4000, last_text: "hello" },
      ] });
      break;
    case "watch": {
      ev({ type: "history", messages: [
        { role: "caller", text: "Is my windscreen covered?", turn: 1, ts: 1 },
        { role: "assistant", text: "Yes, " + EVIL, turn: 1, ts: 2 },
        { role: "caller", text: "And the roof?", turn: 2, ts: 3 }] });
      ev({ type: "turn_start", turn: 2 });
      const words = ["The ", "roof ", "is ", "covered ", "<b>too</b>."];
      words.forEach((w, i) => setTimeout(() => ev({ type: "delta", turn: 2, seq: i, text: w }), 150 * (i + 1)));
      setTimeout(() => ev({ type: "turn_end", turn: 2, stop_reason: "end_turn" }), 150 * (words.length + 1));
      break;
    }
    case "takeover":
      ws.send({ type: "session_update", session_id: sid, state: "agent", updated: 5000, caller: { name: "Ada" } });
      ev({ type: "agent_joined", name: "ada" });
      ev({ type: "handoff", packet: { session_id: sid, channel: "web", state: "agent",
        caller: { id: "c-7", name: "Ada", policy_number: "POL-1234", identified_by: "sign_in" },
        verified: true, reason: "the caller said \"talk to a human\"", waiting_since: null,
        summary: "Asked about windscreen and roof " + EVIL, question: "And the roof?",
        sources: [{ source: "kb:motor-glass.md", title: "Motor glass cover" }],
        passages: [{ source: "kb:motor-glass.md", title: "Motor glass cover", text: "Glass is covered in full." }] } });
      ev({ type: "audit", agent: "ada", action: "takeover", ts: 5000 });
      break;
    case "say":
      ev({ type: "agent_message", name: "ada", text: m.text });
      ev({ type: "audit", agent: "ada", action: "say", ts: 5001 });
      break;
    case "release":
      ws.send({ type: "session_update", session_id: sid, state: "bot", updated: 6000 });
      // a live update of a session the list did not have: it waits, and longest
      ws.send({ type: "session_update", session_id: SID.fresh, channel: "connect", state: "waiting_agent",
        caller: { id: null, name: "Ed" }, updated: 7000, last_text: "I asked that already",
        reason: "the caller repeated a question", waiting_since: 500 });
      ev({ type: "agent_left" });
      ev({ type: "audit", agent: "ada", action: "release", ts: 6000 });
      break;
    }
  });
});

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
  }],

  ["agent_console_lists_waiting_first", async () => {
    await page.goto("about:blank");
    await page.goto(`${desk.origin}/agent#token=${token}`);
    await page.locator("#sessions button").nth(3).waitFor();
    assert.equal(await page.textContent("#who"), "signed in as ada");
    const rows = await page.$$eval("#sessions button", (bs) => bs.map((b) =>
      [b.dataset.sessionId[0], b.querySelector(".badge").textContent, b.querySelector(".reason")?.textContent || ""]));
    assert.deepEqual(rows, [["b", "waiting", "Waiting: the bot did not know twice"],
      ["c", "waiting", "Waiting: asked for a person"], ["d", "agent", ""], ["a", "bot", ""]]);
    assert.equal(await page.textContent(`[data-session-id="${SID.bot}"] .last`), EVIL);
    await stack.screenshot(page, "session-list");
  }],

  ["agent_console_watch_streams_as_text", async () => {
    await page.click(`[data-session-id="${SID.bot}"]`);
    assert.deepEqual(deskFrames.at(-1), { type: "watch", session_id: SID.bot });
    const lengths = new Set();
    await until(async () => {
      const t = await page.evaluate(() => {
        const b = [...document.querySelectorAll("#transcript .msg.assistant")][1];
        return b ? { text: b.lastChild.nodeValue, typing: b.classList.contains("typing") } : null;
      });
      if (t) lengths.add(t.text);
      return t && !t.typing;
    }, "the watched answer to end");
    assert.ok(lengths.size >= 4, `the answer did not stream (${[...lengths].join(" | ")})`);
    assert.deepEqual(await page.$$eval("#transcript .msg", (els) => els.map((e) => e.lastChild.nodeValue)),
      ["Is my windscreen covered?", "Yes, " + EVIL, "And the roof?", "The roof is covered <b>too</b>."]);
    assert.equal(await page.evaluate(() => document.querySelectorAll("img, b").length), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await page.getAttribute(`[data-session-id="${SID.bot}"]`, "aria-current"), "true");
    assert.equal(await page.isDisabled("#reply-text"), true, "no reply before a takeover");
    await stack.screenshot(page, "watching");
  }],

  ["agent_console_takeover_say_release", async () => {
    await page.click("#takeover");
    await page.locator("#handoff").waitFor();
    assert.deepEqual(deskFrames.at(-1), { type: "takeover", session_id: SID.bot });
    assert.equal(await page.textContent("#watch-state .badge"), "agent");
    assert.equal(await page.isDisabled("#takeover"), true);
    const packet = await page.$$eval("#handoff-list > *", (els) => els.map((e) => e.textContent));
    assert.deepEqual(packet, ["Caller", "Ada · c-7", "Identity", "signed in on the website, policy POL-1234",
      "Reason", "the caller said \"talk to a human\"", "Summary", "Asked about windscreen and roof " + EVIL,
      "Last question", "And the roof?", "Cited", "Motor glass cover (kb:motor-glass.md)",
      "Passage 1", "Motor glass cover\nGlass is covered in full."]);
    await page.getByLabel("Reply to the caller").fill("Hello Ada, I can help with the roof.");
    await page.keyboard.press("Enter");
    await page.locator("#transcript .msg.agent").waitFor();
    assert.deepEqual(deskFrames.at(-1), { type: "say", session_id: SID.bot, text: "Hello Ada, I can help with the roof." });
    assert.equal(await page.textContent("#transcript .msg.agent"), "adaHello Ada, I can help with the roof.");
    await stack.screenshot(page, "taken-over");
    await page.click("#release");
    await page.locator("#transcript .notice", { hasText: "Handed back to the bot" }).waitFor();
    assert.deepEqual(deskFrames.at(-1), { type: "release", session_id: SID.bot });
    assert.equal(await page.isDisabled("#takeover"), false);
    assert.equal(await page.isDisabled("#reply-text"), true);
    assert.equal((await page.$$eval("#timeline li", (els) => els.map((e) => e.textContent.split(" · ").slice(1).join(" "))))
      .join(", "), "ada takeover, ada say, ada release");
    assert.equal(await page.evaluate(() => document.querySelectorAll("img, b").length), 0);
    await stack.screenshot(page, "released");
    assert.deepEqual(pageErrors, []);
  }],

  ["agent_console_live_list_update", async () => {
    // the session_update the double sent with the release: a new row, first (waiting longest)
    await page.locator(`[data-session-id="${SID.fresh}"]`).waitFor();
    const rows = await page.$$eval("#sessions button", (bs) => bs.map((b) =>
      [b.dataset.sessionId[0], b.querySelector(".badge").textContent, b.querySelector(".reason")?.textContent || ""]));
    assert.deepEqual(rows, [["e", "waiting", "Waiting: the caller repeated a question"],
      ["b", "waiting", "Waiting: the bot did not know twice"], ["c", "waiting", "Waiting: asked for a person"],
      ["a", "bot", ""], ["d", "agent", ""]]);
    assert.equal(await page.textContent(`[data-session-id="${SID.fresh}"] .last`), "I asked that already");
    await stack.screenshot(page, "live-list");
    assert.deepEqual(pageErrors, []);
  }],
]);
