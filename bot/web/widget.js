/* Parley chat widget: one <script> tag gives a page a chat launcher and panel that speaks the
 * caller protocol (parley.chat.v1, docs/protocol.md). No build step, no dependencies.
 *
 *   <script src="https://chat.example.com/widget.js" data-token-url="/parley/token"
 *           data-title="Ask us" data-color="#1f5f8b" async></script>
 *
 * Options (data- attributes of the tag, or Parley.init({...}) with data-manual on the tag):
 *   server     chat server base URL (default: where widget.js came from)
 *   tokenUrl   the site's endpoint: POST answers {"token": CALLER_TOKEN} (default: none, an
 *              anonymous session if the server allows them)
 *   title      panel title; color: accent colour; inline: CSS selector of an element to show the
 *              panel in, open, without a launcher; open: "true" to start open.
 * Every text shown (model, agent, caller, errors) goes through textContent: never parsed as HTML.
 * See docs/widget.md. */
(function () {
  "use strict";
  const script = document.currentScript;

  const CSS = `
:host { all: initial; --accent: var(--parley-accent, #1f5f8b); --fg: #1d232a; --muted: #5f6b76;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); }
* { box-sizing: border-box; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0;
  border-radius: 28px; padding: 14px 20px; background: var(--accent); color: #fff; font: inherit;
  font-weight: 600; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
.panel { display: flex; flex-direction: column; background: #f4f6f8; overflow: hidden; }
.floating { position: fixed; right: 20px; bottom: 84px; width: min(380px, calc(100vw - 24px));
  height: min(560px, calc(100vh - 110px)); border-radius: 14px; z-index: 2147483000;
  box-shadow: 0 8px 30px rgba(0,0,0,.3); }
.inline { width: 100%; height: 100%; min-height: 320px; border-radius: 10px; }
.panel[hidden], .launcher[hidden] { display: none; }
header { background: var(--accent); color: #fff; padding: 10px 12px; display: flex; gap: 8px;
  align-items: center; }
h2 { font-size: 16px; margin: 0; flex: 1; font-weight: 600; }
.status { font-size: 12px; opacity: .92; }
.close { background: transparent; color: #fff; border: 0; font-size: 22px; line-height: 1;
  padding: 2px 8px; cursor: pointer; border-radius: 6px; }
.log { flex: 1; overflow-y: auto; padding: 10px; }
.msg { max-width: 88%; margin: 8px 0; padding: 9px 12px; border-radius: 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.caller { background: #dbeaf5; margin-left: auto; }
.agent { border-left: 4px solid #2e7d32; }
.who { display: block; font-size: 12px; font-weight: 600; color: #2e7d32; }
.notice { text-align: center; font-size: 13px; color: #2e5e31; margin: 10px 0; }
.meta { display: block; font-size: 12px; color: var(--muted); margin-top: 4px; }
.error { color: #b3261e; font-size: 14px; margin: 8px 0; }
.typing::after { content: "\\258D"; animation: blink 1s steps(1) infinite; }
@keyframes blink { 50% { opacity: 0; } }
form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #dde3e8; background: #fff; }
textarea { flex: 1; resize: none; height: 44px; padding: 10px; border: 1px solid #a9b4be;
  border-radius: 8px; font: inherit; color: inherit; }
form button { padding: 0 14px; border: 0; border-radius: 8px; background: var(--accent); color: #fff;
  font: inherit; cursor: pointer; }
form button.secondary { background: #e3e8ed; color: var(--fg); }
button:disabled { opacity: .5; cursor: default; }
button:focus-visible, textarea:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
`;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function readOptions() {
    const d = (script && script.dataset) || {};
    let server = d.server;
    if (!server && script && script.src) server = new URL(script.src, location.href).origin;
    return { server, tokenUrl: d.tokenUrl, title: d.title, color: d.color, inline: d.inline,
      open: d.open === "true" };
  }

  function Widget(o) {
    this.server = (o.server || location.origin).replace(/\/+$/, "");
    this.tokenUrl = o.tokenUrl || null;
    this.title = o.title || "Chat with us";
    this.key = "parley.token " + this.server;
    this.ws = null;
    this.ready = false;
    this.backoff = 500;
    this.connected = false;   // a ready was received on some socket already
    this.stopped = false;     // a refusal that reconnecting will not fix
    this.turns = new Map();   // turn -> {el, node, seq, done}
    this.shown = new Set();   // turns whose answer is on screen
    this.pending = new Map(); // message id -> {text, el}: sent, not yet acknowledged
    this.started = false;
    this.build(o);
    // A visitor who never opens the chat costs no session: connect on the first opening, or at
    // once when this tab already has a conversation (to show it and finish a streaming answer).
    let stored = null;
    try { stored = sessionStorage.getItem(this.key); } catch (e) { /* storage off */ }
    if (stored || !this.launcher || !this.panel.hidden) this.start();
  }

  Widget.prototype.start = function () {
    if (this.started) return;
    this.started = true;
    this.connect();
  };

  Widget.prototype.build = function (o) {
    const host = el("div");
    host.setAttribute("data-parley-widget", "");
    const inlineAt = o.inline ? document.querySelector(o.inline) : null;
    (inlineAt || document.body).appendChild(host);
    const root = host.attachShadow({ mode: "open" });
    root.appendChild(el("style", null, CSS));
    if (o.color) host.style.setProperty("--parley-accent", o.color);
    const uid = "parley-" + Math.random().toString(36).slice(2, 8);

    const panel = el("section", "panel " + (inlineAt ? "inline" : "floating"));
    panel.id = uid + "-panel";
    panel.setAttribute("role", inlineAt ? "region" : "dialog");
    panel.setAttribute("aria-labelledby", uid + "-title");
    const header = el("header");
    const h = el("h2", null, this.title);
    h.id = uid + "-title";
    this.statusEl = el("span", "status", "connecting…");
    this.statusEl.setAttribute("role", "status");
    header.append(h, this.statusEl);
    this.log = el("div", "log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-label", "Conversation");
    this.log.tabIndex = 0;
    // Deltas are too small to announce one by one: whole answers and notices go to this region.
    this.live = el("div", "sr");
    this.live.setAttribute("aria-live", "polite");
    this.alert = el("div", "sr");
    this.alert.setAttribute("role", "alert");
    const form = el("form");
    const label = el("label", "sr", "Your message");
    label.htmlFor = uid + "-text";
    this.text = el("textarea");
    this.text.id = uid + "-text";
    this.text.maxLength = 4000;
    this.text.placeholder = "Type your question, then Enter";
    this.sendBtn = el("button", null, "Send");
    this.sendBtn.type = "submit";
    this.sendBtn.disabled = true;
    this.stopBtn = el("button", "secondary", "Stop");
    this.stopBtn.type = "button";
    this.stopBtn.disabled = true;
    this.stopBtn.setAttribute("aria-label", "Stop the answer");
    form.append(label, this.text, this.sendBtn, this.stopBtn);
    panel.append(header, this.log, form, this.live, this.alert);
    this.panel = panel;

    if (!inlineAt) {
      const close = el("button", "close", "\u00d7");
      close.type = "button";
      close.setAttribute("aria-label", "Close chat");
      close.addEventListener("click", () => this.setOpen(false));
      header.appendChild(close);
      this.launcher = el("button", "launcher", this.title);
      this.launcher.type = "button";
      this.launcher.setAttribute("aria-controls", panel.id);
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.addEventListener("click", () => this.setOpen(panel.hidden));
      panel.hidden = true;
      panel.addEventListener("keydown", (e) => {
        if (e.key === "Escape") { e.preventDefault(); this.setOpen(false); }
      });
      root.append(this.launcher, panel);
      if (o.open) this.setOpen(true);
    } else {
      root.append(panel);
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
    this.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); this.send(); }
    });
    this.stopBtn.addEventListener("click", () => this.out({ type: "cancel" }));
  };

  Widget.prototype.setOpen = function (open) {
    if (!this.launcher) return;
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
    if (open) this.start();
    if (open) this.text.focus();
    else this.launcher.focus();
  };

  Widget.prototype.scroll = function () { this.log.scrollTop = this.log.scrollHeight; };
  Widget.prototype.announce = function (s) { this.live.textContent = s; };

  Widget.prototype.bubble = function (role, content, who) {
    const b = el("div", "msg " + role);
    if (who) b.appendChild(el("span", "who", who));
    const node = document.createTextNode(content);
    b.appendChild(node);
    this.log.appendChild(b);
    this.scroll();
    return { el: b, node };
  };
  Widget.prototype.notice = function (s) {
    this.log.appendChild(el("div", "notice", s));
    this.scroll();
    this.announce(s);
  };
  Widget.prototype.error = function (s) {
    this.log.appendChild(el("div", "error", s));
    this.scroll();
    this.alert.textContent = s;
  };
  Widget.prototype.setStatus = function (ready, s) {
    this.ready = ready;
    this.sendBtn.disabled = !ready;
    this.statusEl.textContent = s;
  };
  Widget.prototype.out = function (m) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(m));
  };

  Widget.prototype.send = function () {
    const s = this.text.value.trim();
    if (!s || !this.ready) return;
    const id = "w-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8);
    const b = this.bubble("caller", s);
    this.pending.set(id, { text: s, el: b.el });
    this.out({ type: "message", id, text: s });
    this.text.value = "";
  };

  Widget.prototype.getToken = async function () {
    let t = null;
    try { t = sessionStorage.getItem(this.key); } catch (e) { /* storage off: no resume */ }
    if (t || !this.tokenUrl) return t;
    const res = await fetch(this.tokenUrl, { method: "POST", credentials: "same-origin",
      headers: { accept: "application/json" } });
    if (!res.ok) throw new Error("token endpoint answered " + res.status);
    const body = await res.json();
    if (!body || typeof body.token !== "string") throw new Error("token endpoint gave no token");
    return body.token;
  };
  Widget.prototype.saveToken = function (t) {
    try { t ? sessionStorage.setItem(this.key, t) : sessionStorage.removeItem(this.key); } catch (e) { /* ignore */ }
  };

  // The turn still streaming, to resume from after a reconnect.
  Widget.prototype.inFlight = function () {
    let r = null;
    for (const [turn, t] of this.turns) if (!t.done && t.seq >= 0) r = { turn, seq: t.seq };
    return r;
  };

  Widget.prototype.connect = async function () {
    if (this.stopped) return;
    let token;
    try {
      token = await this.getToken();
    } catch (e) {
      this.setStatus(false, "offline");
      this.error("Could not start the chat (" + e.message + "); retrying…");
      return this.retry();
    }
    const url = this.server.replace(/^http/, "ws") + "/v1/chat";
    let ws;
    try { ws = new WebSocket(url, "parley.chat.v1"); } catch (e) { this.error("Bad chat server address."); return; }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      const hello = { type: "hello" };
      if (token) hello.token = token;
      const r = token && this.inFlight();
      if (r) hello.resume = r;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      this.handle(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setStatus(false, "reconnecting…");
      this.stopBtn.disabled = true;
      if (!opened) return this.whyRefused();
      if (ev.code === 1008 && ev.reason) this.error(ev.reason);
      this.retry();
    };
  };

  Widget.prototype.retry = function () {
    const wait = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, 15000);
    setTimeout(() => this.connect(), wait);
  };

  // A socket refused before it opened: the server is down, or refuses this page's origin
  // (--allowed-origins). The server answers an opaque request either way; only an allowed
  // origin may read its answer.
  Widget.prototype.whyRefused = async function () {
    let reachable = false, readable = false;
    try { await fetch(this.server + "/healthz", { mode: "no-cors", cache: "no-store" }); reachable = true; } catch (e) { /* down */ }
    if (reachable) {
      try { readable = (await fetch(this.server + "/healthz", { cache: "no-store" })).ok; } catch (e) { /* refused */ }
    }
    if (reachable && !readable) {
      this.stopped = true;
      this.setStatus(false, "unavailable");
      this.error("This website is not allowed to use the chat service (its origin " + location.origin +
        " is not in the server's allowed origins).");
      return;
    }
    this.setStatus(false, reachable ? "reconnecting…" : "offline, reconnecting…");
    this.retry();
  };

  Widget.prototype.rebuild = function (messages) {
    // Keep answers still streaming and messages not yet acknowledged: the history lacks them.
    const keepTurns = [];
    for (const [turn, t] of this.turns) if (!t.done) keepTurns.push([turn, t]);
    this.log.textContent = "";
    this.shown.clear();
    const stored = new Set();
    this.callerTurns = new Set();
    for (const h of messages) {
      if (h.role === "caller") this.callerTurns.add(h.turn);
      if (h.role === "assistant") { stored.add(h.turn); this.shown.add(h.turn); }
      const b = this.bubble(h.role, h.text, h.role === "agent" ? "Agent" : null);
      if (h.role === "assistant" && h.stop_reason && h.stop_reason !== "end_turn")
        b.el.appendChild(el("span", "meta", "(" + h.stop_reason.replace(/_/g, " ") + ")"));
    }
    this.turns.clear();
    for (const [turn, t] of keepTurns) {
      if (stored.has(turn)) continue;
      this.log.appendChild(t.el);
      this.turns.set(turn, t);
    }
    for (const p of this.pending.values()) this.log.appendChild(p.el);
    this.scroll();
  };

  Widget.prototype.turn = function (n) {
    let t = this.turns.get(n);
    if (!t) {
      const b = this.bubble("assistant", "");
      b.el.classList.add("typing");
      t = { el: b.el, node: b.node, seq: -1, done: false };
      this.turns.set(n, t);
    }
    return t;
  };

  Widget.prototype.handle = function (m) {
    switch (m.type) {
    case "ready":
      this.saveToken(m.token);
      this.backoff = 500;
      this.setStatus(true, this.connected ? "connected (reconnected)" : "connected");
      this.connected = true;
      break;
    case "history":
      this.rebuild(m.messages || []);
      // Messages sent but not acknowledged before the socket dropped: resent with their ids, so
      // the server stores each once.
      for (const [id, p] of this.pending) {
        p.resent = true;
        this.out({ type: "message", id, text: p.text });
      }
      break;
    case "ack": {
      // A resent message that was stored before its first ack was lost: the history shows it.
      const p = this.pending.get(m.id);
      if (p && p.resent && this.callerTurns && this.callerTurns.has(m.turn)) p.el.remove();
      this.pending.delete(m.id);
      break;
    }
    case "turn_start":
      if (!this.shown.has(m.turn)) this.turn(m.turn);
      this.stopBtn.disabled = false;
      break;
    case "delta": {
      if (this.shown.has(m.turn)) break;
      const t = this.turn(m.turn);
      if (m.seq !== t.seq + 1) break; // a repeat after a resume
      t.node.nodeValue += m.text;
      t.seq = m.seq;
      this.scroll();
      break;
    }
    case "turn_end": {
      const answered = m.answered_in || m.turn;
      let t = this.turns.get(m.turn);
      if (!t && typeof m.text === "string" && !this.shown.has(answered)) t = this.turn(m.turn);
      if (t && typeof m.text === "string" && m.text !== t.node.nodeValue) t.node.nodeValue = m.text;
      this.shown.add(answered);
      if (t) {
        t.done = true;
        t.el.classList.remove("typing");
        if (m.stop_reason && m.stop_reason !== "end_turn")
          t.el.appendChild(el("span", "meta", "(" + m.stop_reason.replace(/_/g, " ") + ")"));
        if (t.node.nodeValue) this.announce("Assistant: " + t.node.nodeValue);
      }
      this.stopBtn.disabled = true;
      break;
    }
    case "agent_joined":
      this.notice((m.name || "An agent") + " joined the conversation");
      break;
    case "agent_message":
      this.bubble("agent", m.text || "", m.name || "Agent");
      this.announce("Agent: " + (m.text || ""));
      break;
    case "agent_left":
      this.notice("The agent left; the assistant is back.");
      break;
    case "error":
      this.error((m.message || m.code || "error") + (m.retryable ? " (you can try again)" : ""));
      if (!this.ready && (m.code === "unauthorized" || m.code === "not_found")) {
        // The stored token is no longer good: start again with a new one.
        this.saveToken(null);
        if (this.ws) this.ws.close();
      }
      break;
    }
  };

  const api = {
    init(options) { return new Widget(Object.assign(readOptions(), options || {})); },
  };
  window.Parley = api;
  function auto() {
    if (script && script.dataset.manual === undefined) window.Parley.widget = api.init();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", auto);
  else auto();
})();
