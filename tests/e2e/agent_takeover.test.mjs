// The agent desk end to end in Debian's Chromium against real parleyd (offline provider): a
// caller chats through the widget on a plain page of another origin; an agent in a second
// browser context opens /agent, watches the session, takes over (the caller's page shows the
// agent joining), replies (the caller's page shows the reply, as text), gets the caller's next
// message instead of the bot, and releases (the caller's page shows the bot is back, and the bot
// answers again). Screenshots of each step go to PARLEY_ARTIFACTS_DIR/agent_takeover.
// Usage: node agent_takeover.test.mjs
import assert from "node:assert/strict";
import { Stack, loadChromium, runSteps, until } from "./harness.mjs";

const chromium = await loadChromium();
const stack = new Stack("agent_takeover");
const redisPort = await stack.redis();
let parleyd;
const admin = stack.token("admin", "acme-site-backend");
const site = await stack.http(async (req, res) => {
  if (req.method === "POST" && req.url === "/token") {
    const r = await fetch(`${parleyd.url}/v1/sessions`, { method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ caller: { id: "c-7", name: "Grace Hopper" } }) });
    const body = await r.json();
    res.writeHead(r.ok ? 200 : 502, { "content-type": "application/json" });
    res.end(JSON.stringify(r.ok ? { token: body.token } : body));
    return;
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Insurance</title></head>
<body><h1>Acme Insurance</h1>
<script src="${parleyd.url}/widget.js" data-token-url="/token" data-title="Ask Acme" async></script>
</body></html>`);
});
parleyd = await stack.parleyd(redisPort, ["--allowed-origins", site.origin, "--local-pace-ms", "30"]);
const agentToken = stack.token("agent", "ann");

const browser = await stack.browser(chromium);
const caller = await (await browser.newContext()).newPage();
const agent = await (await browser.newContext()).newPage();
const pageErrors = [];
for (const p of [caller, agent]) p.on("pageerror", (e) => pageErrors.push(String(e)));

const inWidget = (fn) => caller.evaluate((f) => {
  const root = document.querySelector("[data-parley-widget]").shadowRoot;
  return new Function("root", `return (${f})(root)`)(root);
}, fn.toString());
const widgetTexts = (sel) => inWidget(new Function("root",
  `return [...root.querySelectorAll(${JSON.stringify(sel)})].map((e) => e.textContent)`));
const assistantDone = (n) => until(async () => {
  const done = await inWidget((root) => [...root.querySelectorAll(".msg.assistant")]
    .filter((b) => !b.classList.contains("typing")).length);
  return done >= n;
}, `${n} answers`, 20000);
let sid;

await runSteps(stack, [
  ["caller_chats_on_the_widget", async () => {
    await caller.goto(`${site.origin}/`);
    await caller.locator(".launcher").click();
    await caller.locator(".status", { hasText: /^connected/ }).waitFor();
    await caller.fill("textarea", "Is hail damage covered?");
    await caller.press("textarea", "Enter");
    await assistantDone(1);
    const token = await caller.evaluate(() => {
      for (let i = 0; i < sessionStorage.length; i++) {
        const k = sessionStorage.key(i);
        if (k.startsWith("parley.token")) return sessionStorage.getItem(k);
      }
      return null;
    });
    assert.ok(token, "the widget keeps its token");
    sid = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sid;
    await stack.screenshot(caller, "caller-first-answer");
  }],

  ["agent_watches_and_takes_over", async () => {
    await agent.goto(`${parleyd.url}/agent#token=${agentToken}`);
    await agent.locator(`[data-session-id="${sid}"]`).click();
    await agent.locator("#transcript .msg.assistant").waitFor();
    await stack.screenshot(agent, "agent-watching");
    await agent.click("#takeover");
    await until(async () => (await agent.textContent("#watch-state .badge")) === "agent", "the agent badge");
    await until(async () => (await widgetTexts(".notice")).includes("ann joined the conversation"),
      "the caller's page to show the agent joined");
    // the handoff packet, built by parleyd from Redis
    await agent.locator("#handoff").waitFor();
    const packet = await agent.$$eval("#handoff-list > *", (els) => els.map((e) => e.textContent));
    const field = (k) => packet[packet.indexOf(k) + 1];
    assert.equal(field("Identity"), "not verified");
    assert.equal(field("Last question"), "Is hail damage covered?");
    assert.ok(packet.includes("Summary"), `no summary in ${JSON.stringify(packet)}`);
    await stack.screenshot(agent, "agent-took-over");
    await stack.screenshot(caller, "caller-sees-agent-joined");
  }],

  ["agent_replies_and_gets_the_callers_message", async () => {
    const reply = "Hi Grace, Ann here. <img src=x onerror=window.__pwned=1>";
    await agent.fill("#reply-text", reply);
    await agent.click("#say");
    await until(async () => (await widgetTexts(".msg.agent")).some((t) => t.endsWith(reply)),
      "the caller's page to show the reply");
    assert.equal(await caller.evaluate(() => window.__pwned), undefined);
    assert.equal(await inWidget((root) => root.querySelectorAll(".msg.agent img").length), 0);
    await caller.fill("textarea", "Thanks Ann, is the roof covered too?");
    await caller.press("textarea", "Enter");
    await agent.locator("#transcript .msg.caller", { hasText: "is the roof covered too?" }).waitFor();
    // the bot did not answer it
    assert.equal((await widgetTexts(".msg.assistant")).length, 1);
    await stack.screenshot(caller, "caller-sees-agent-reply");
    await stack.screenshot(agent, "agent-gets-caller-message");
  }],

  ["agent_releases_and_the_bot_is_back", async () => {
    await agent.click("#release");
    await until(async () => (await widgetTexts(".notice")).some((t) => t.includes("assistant is back")),
      "the caller's page to show the agent left");
    await caller.fill("textarea", "One more question for the bot");
    await caller.press("textarea", "Enter");
    await assistantDone(2);
    await stack.screenshot(caller, "caller-bot-is-back");
    await stack.screenshot(agent, "agent-released");
    assert.deepEqual(pageErrors, []);
  }],
]);
