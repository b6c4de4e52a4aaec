// The embeddable widget (/widget.js) in Debian's Chromium, on a plain page of ANOTHER origin (a
// customer site served by this test, with its own token endpoint), against parleyd with that
// origin in --allowed-origins and the offline provider. The browser reaches parleyd through a
// TCP relay the test can cut. Steps: keyboard-only chat with a streamed answer stored exactly as
// shown; model and caller text holding HTML rendered as text; a dropped socket resumed mid-answer
// with no gap and no repeat; a page of an origin not allowed gets a clear refusal. Screenshots of
// each step go to PARLEY_ARTIFACTS_DIR/widget. An agent joining, writing and leaving is shown
// from a double of the caller WebSocket (the agent desk's side of it lands with the desk). Usage: node widget.test.mjs
import assert from "node:assert/strict";
import { Stack, acceptWebSocket, loadChromium, runSteps, until } from "./harness.mjs";

const chromium = await loadChromium();
const stack = new Stack("widget");
const redisPort = await stack.redis();

// Two customer sites: `site` is allowed, `foreign` is not. Each serves a page embedding the widget
// and the token endpoint of the contract in docs/widget.md (POST answers {"token"}), which mints
// the caller's session with an admin token, server to server.
let tokenRequests = 0;
let parleyd;
const admin = stack.token("admin", "acme-site-backend");
function siteHandler(widgetUrl) {
  return async (req, res) => {
    if (req.method === "POST" && req.url === "/token") {
      tokenRequests++;
      const r = await fetch(`${parleyd.url}/v1/sessions`, { method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ caller: { id: "c-42", name: "Ada Lovelace" } }) });
      const body = await r.json();
      res.writeHead(r.ok ? 200 : 502, { "content-type": "application/json" });
      res.end(JSON.stringify(r.ok ? { token: body.token } : body));
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Insurance</title></head>
<body><h1>Acme Insurance</h1><p>A plain customer page.</p>
<script src="${widgetUrl}/widget.js" data-token-url="/token" data-title="Ask Acme" data-color="#6a1b9a" async></script>
</body></html>`);
  };
}
const site = await stack.http((req, res) => siteHandler(relay.url)(req, res));
const foreign = await stack.http((req, res) => siteHandler(relay.url)(req, res));
parleyd = await stack.parleyd(redisPort, ["--allowed-origins", site.origin, "--local-pace-ms", "60"]);
const relay = await stack.relay(parleyd.port);
// A double of parleyd's caller WebSocket that plays an agent's takeover; its pages are parleyd's.
const chatDouble = await stack.http(async (req, res) => {
  const r = await fetch(parleyd.url + req.url);
  res.writeHead(r.status, { "content-type": r.headers.get("content-type") || "text/plain" });
  res.end(Buffer.from(await r.arrayBuffer()));
}, (req, socket) => {
  const ws = acceptWebSocket(req, socket, "parley.chat.v1", (m) => {
    if (m.type !== "hello") return;
    ws.send({ type: "ready", session_id: "e".repeat(32), token: "t", resumed: true });
    ws.send({ type: "history", messages: [{ role: "caller", text: "I want a person", turn: 1, ts: 1 }] });
    ws.send({ type: "agent_joined", name: "Ann <i>Agent</i>" });
    ws.send({ type: "agent_message", text: "Hi, I am Ann. <img src=x onerror=window.__pwned=2>" });
    ws.send({ type: "agent_left" });
  });
});
const agentSite = await stack.http((req, res) => siteHandler(chatDouble.origin)(req, res));
const agent = stack.token("agent", "e2e");

const browser = await stack.browser(chromium);
const page = await browser.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
// Every WebSocket of the page with the frames it sent and received, parsed.
const sockets = [];
page.on("websocket", (ws) => {
  const s = { url: ws.url(), sent: [], recv: [] };
  sockets.push(s);
  ws.on("framesent", (f) => s.sent.push(JSON.parse(f.payload)));
  ws.on("framereceived", (f) => s.recv.push(JSON.parse(f.payload)));
});

// In the page: the widget's shadow root.
const inWidget = (fn, arg) => page.evaluate(([f, a]) => {
  const root = document.querySelector("[data-parley-widget]").shadowRoot;
  return new Function("root", "arg", `return (${f})(root, arg)`)(root, a);
}, [fn.toString(), arg]);
const focused = () => page.evaluate(() => {
  const a = document.activeElement;
  if (!a || !a.shadowRoot) return a ? a.tagName : null;
  const b = a.shadowRoot.activeElement;
  return b ? (b.className ? `${b.tagName}.${b.className}` : b.tagName) : "host";
});
const answers = () => inWidget((root) => [...root.querySelectorAll(".msg.assistant")].map((b) =>
  ({ text: b.lastChild.nodeType === 3 ? b.lastChild.nodeValue : b.childNodes[0].nodeValue, typing: b.classList.contains("typing") })));
async function stored() {
  const token = await page.evaluate((k) => sessionStorage.getItem(k), `parley.token ${relay.url}`);
  const sid = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sid;
  const res = await fetch(`${parleyd.url}/v1/sessions/${sid}`, { headers: { authorization: `Bearer ${agent}` } });
  assert.equal(res.status, 200);
  return (await res.json()).transcript;
}
// Waits until the answer number `i` (from 0) has ended, noting every length it was seen at.
async function answerDone(i) {
  const lengths = new Set();
  await until(async () => {
    const a = (await answers())[i];
    if (a) lengths.add(a.text.length);
    return a && !a.typing;
  }, `answer ${i + 1} to end`, 20000);
  return lengths;
}

await runSteps(stack, [
  ["widget_keyboard_chat_cross_origin", async () => {
    await page.goto(`${site.origin}/`);
    await page.locator(".launcher").waitFor();
    assert.equal(tokenRequests, 0, "no session before the visitor opens the chat");
    await stack.screenshot(page, "site-with-launcher");
    // Keyboard only: Tab reaches the launcher, Enter opens the panel and focuses the text box.
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "BUTTON.launcher");
    assert.equal(await page.getAttribute(".launcher", "aria-expanded"), "false");
    await page.keyboard.press("Enter");
    assert.equal(await page.getAttribute(".launcher", "aria-expanded"), "true");
    assert.equal(await focused(), "TEXTAREA");
    assert.equal(await page.getByLabel("Your message").count(), 1);
    await page.locator(".status", { hasText: /^connected/ }).waitFor();
    assert.equal(tokenRequests, 1);
    await stack.screenshot(page, "panel-open");

    const question = "Is water damage from a burst pipe covered?";
    await page.keyboard.type(question);
    await page.keyboard.press("Enter");
    const lengths = await answerDone(0);
    assert.ok(lengths.size >= 4, `answer did not stream (saw ${lengths.size} lengths)`);
    const [shown] = await answers();
    assert.match(shown.text, /No AI model is configured/);
    assert.equal(await page.textContent(".msg.caller"), question);
    assert.deepEqual((await stored()).filter((e) => e.role === "assistant").map((e) => e.text), [shown.text]);
    // The whole answer is announced once, in the polite live region.
    assert.equal(await inWidget((root) => root.querySelector("[aria-live=polite]").textContent),
      `Assistant: ${shown.text}`);
    // The session was made by the site's token endpoint (its caller), not anonymously.
    assert.ok(sockets[0].sent[0].token, "hello carried the site's token");
    await stack.screenshot(page, "answer-streamed");

    // Escape closes the panel and gives the focus back to the launcher.
    await page.keyboard.press("Escape");
    assert.equal(await page.getAttribute(".launcher", "aria-expanded"), "false");
    assert.equal(await inWidget((root) => root.querySelector(".panel").hidden), true);
    assert.equal(await focused(), "BUTTON.launcher");
    await stack.screenshot(page, "closed-with-escape");
  }],

  ["widget_renders_html_as_text", async () => {
    await page.keyboard.press("Enter");
    const evil = "<img src=x onerror=window.__pwned=1> and <b>bold</b>";
    await page.keyboard.type(evil);
    await page.keyboard.press("Enter");
    await answerDone(1);
    const check = async () => {
      assert.equal(await inWidget((root) => root.querySelectorAll("img, b, script").length), 0);
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
      const callers = await page.$$eval(".msg.caller", (els) => els.map((e) => e.textContent));
      assert.equal(callers[1], evil);
      const a = (await answers())[1];
      assert.ok(a.text.includes("<img src=x onerror=window.__pwned=1>"), `the echo shows the markup: ${a.text}`);
    };
    await check();
    await stack.screenshot(page, "html-as-text");
    // The history after a reload is rendered the same way; the tab keeps its token.
    await page.reload();
    await page.locator(".launcher").click();
    await page.locator(".msg").nth(3).waitFor();
    await check();
    assert.equal(tokenRequests, 1, "the reload reused the tab's token");
    await stack.screenshot(page, "html-as-text-after-reload");
  }],

  ["widget_reconnect_resumes_mid_answer", async () => {
    const before = sockets.length;
    await page.fill("textarea", "What does my home policy say about storm damage to the roof?");
    await page.press("textarea", "Enter");
    const live = sockets[sockets.length - 1];
    const deltas = (s) => s.recv.filter((m) => m.type === "delta");
    await until(() => deltas(live).length >= 3, "three deltas");
    const turn = deltas(live)[0].turn;
    await stack.screenshot(page, "before-drop");
    assert.ok(relay.drop() >= 1, "the relay had the socket");
    const again = await until(() => sockets.slice(before).find((s) => s !== live &&
      s.recv.some((m) => m.type === "ready")), "the widget to reconnect");
    await answerDone(2);
    assert.equal(await page.textContent(".status"), "connected (reconnected)");
    const hello = again.sent[0];
    assert.equal(hello.type, "hello");
    assert.equal(hello.resume.turn, turn);
    const seen = deltas(live).filter((d) => d.turn === turn).map((d) => d.seq);
    assert.equal(hello.resume.seq, Math.max(...seen), "resume names the last delta shown");
    const tail = deltas(again).filter((d) => d.turn === turn).map((d) => d.seq);
    assert.ok(tail.length > 0, "the answer was still streaming when the widget came back");
    assert.equal(tail[0], hello.resume.seq + 1, "the tail starts right after the last delta shown");
    const shownNow = await answers();
    assert.equal(shownNow.length, 3, "no answer shown twice");
    const storedAnswers = (await stored()).filter((e) => e.role === "assistant").map((e) => e.text);
    assert.deepEqual(shownNow.map((a) => a.text), storedAnswers);
    await stack.screenshot(page, "resumed-after-drop");
  }],

  ["widget_resends_unacknowledged_message", async () => {
    const reconnected = async (before) => until(() => sockets.slice(before).some((s) =>
      s.recv.some((m) => m.type === "ready")), "the widget to reconnect");
    const bubbles = () => page.$$eval(".msg", (els) => els.map((e) => [e.className.replace(/ typing/, ""), e.childNodes[0].nodeValue]));
    const storedBubbles = async () => (await stored()).filter((e) => e.role === "caller" || e.role === "assistant")
      .map((e) => [`msg ${e.role}`, e.text]);
    // Lost on the way up: never stored; sent again after the reconnect, stored once.
    relay.mute("up");
    let before = sockets.length;
    await page.fill("textarea", "Does my policy cover a stolen bicycle?");
    await page.press("textarea", "Enter");
    await until(() => relay.lost > 0, "the message to be lost");
    relay.drop();
    await reconnected(before);
    await answerDone(3);
    // Stored, its ack lost on the way down: the history shows it, the resend is only acknowledged.
    relay.mute("down");
    before = sockets.length;
    await page.fill("textarea", "And a stolen laptop?");
    await page.press("textarea", "Enter");
    await until(async () => (await stored()).some((e) => e.role === "assistant" && e.turn === 5), "turn 5 to be answered");
    relay.drop();
    await reconnected(before);
    await answerDone(4);
    await until(async () => !sockets.at(-1).sent.some((m) => m.type === "message") ||
      sockets.at(-1).recv.some((m) => m.type === "ack"), "the resend to be acknowledged");
    const want = await storedBubbles();
    assert.equal(want.filter(([c]) => c === "msg caller").length, 5, "each message stored once");
    assert.deepEqual(await bubbles(), want);
    await stack.screenshot(page, "resent-after-lost-ack");
  }],

  ["widget_refused_on_foreign_origin", async () => {
    const other = await browser.newPage();
    other.on("pageerror", (e) => pageErrors.push(String(e)));
    await other.goto(`${foreign.origin}/`);
    await other.locator(".launcher").click();
    await other.locator(".error", { hasText: "not allowed to use the chat service" }).waitFor();
    assert.match(await other.textContent(".error"), new RegExp(`origin ${foreign.origin} is not in`));
    assert.equal(await other.textContent(".status"), "unavailable");
    assert.equal(await other.isDisabled("form button[type=submit]"), true);
    await stack.screenshot(other, "foreign-origin-refused");
  }],

  ["widget_shows_agent_distinctly", async () => {
    const p = await browser.newPage();
    p.on("pageerror", (e) => pageErrors.push(String(e)));
    await p.goto(`${agentSite.origin}/`);
    await p.locator(".launcher").click();
    await p.locator(".notice", { hasText: "The agent left; the assistant is back." }).waitFor();
    assert.deepEqual(await p.$$eval(".log > *", (els) => els.map((e) => [e.className, e.textContent])), [
      ["msg caller", "I want a person"],
      ["notice", "Ann <i>Agent</i> joined the conversation"],
      ["msg agent", "AgentHi, I am Ann. <img src=x onerror=window.__pwned=2>"],
      ["notice", "The agent left; the assistant is back."]]);
    assert.equal(await p.evaluate(() => document.querySelector("[data-parley-widget]").shadowRoot
      .querySelectorAll("img, i").length), 0);
    assert.equal(await p.evaluate(() => window.__pwned), undefined);
    await stack.screenshot(p, "agent-joined-wrote-left");
    assert.deepEqual(pageErrors, []);
  }],
]);
