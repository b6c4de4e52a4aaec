/* Parley demo chat client (parley.chat.v1), served at /widget.js for the demo page. The full
 * embeddable widget comes in a later release. */
"use strict";
// A minimal client of the caller protocol (parley.chat.v1): hello, ready/history, message/ack,
// turn_start/delta/turn_end, error; reconnects with its token and resumes a turn mid-stream.
const log = document.getElementById("log");
const statusEl = document.getElementById("status");
const text = document.getElementById("text");
const sendBtn = document.getElementById("send");
const stopBtn = document.getElementById("stop");
let ws = null, ready = false, backoff = 500, nextId = 1;
let token = sessionStorage.getItem("parley.token");
const turns = new Map();   // turn -> {el, seq}
const shown = new Set();   // turns whose answer is on screen (by the turn that answered)
let lastTurn = null;       // {turn, seq} for resume

function bubble(role, content, meta) {
  const el = document.createElement("div");
  el.className = "msg " + role;
  el.textContent = content;
  if (meta) { const m = document.createElement("div"); m.className = "meta"; m.textContent = meta; el.appendChild(m); }
  log.appendChild(el);
  log.scrollTop = log.scrollHeight;
  return el;
}
function showError(msg) {
  const el = document.createElement("div");
  el.className = "error";
  el.textContent = msg;
  log.appendChild(el);
  log.scrollTop = log.scrollHeight;
}
function setReady(on, label) {
  ready = on;
  sendBtn.disabled = !on;
  statusEl.textContent = label;
}
function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/chat";
  ws = new WebSocket(url, "parley.chat.v1");
  ws.onopen = () => {
    const hello = { type: "hello" };
    if (token) hello.token = token;
    if (token && lastTurn) hello.resume = lastTurn;
    ws.send(JSON.stringify(hello));
  };
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = () => {
    setReady(false, "reconnecting…");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 8000);
  };
}
function handle(m) {
  switch (m.type) {
  case "ready":
    token = m.token; sessionStorage.setItem("parley.token", token);
    backoff = 500;
    setReady(true, m.resumed ? "connected (conversation resumed)" : "connected");
    break;
  case "history":
    if (!lastTurn) {
      log.textContent = "";
      for (const h of m.messages) bubble(h.role, h.text);
    }
    break;
  case "ack": break;
  case "turn_start": {
    if (!turns.has(m.turn)) { const el = bubble("assistant", ""); el.classList.add("typing"); turns.set(m.turn, { el, seq: -1 }); }
    stopBtn.disabled = false;
    break;
  }
  case "delta": {
    let t = turns.get(m.turn);
    if (!t) { const el = bubble("assistant", ""); el.classList.add("typing"); t = { el, seq: -1 }; turns.set(m.turn, t); }
    if (m.seq === t.seq + 1) { t.el.firstChild ? t.el.firstChild.nodeValue += m.text : t.el.append(m.text); t.seq = m.seq; }
    lastTurn = { turn: m.turn, seq: t.seq };
    log.scrollTop = log.scrollHeight;
    break;
  }
  case "turn_end": {
    let t = turns.get(m.turn);
    if (!t && m.text && !shown.has(m.answered_in || m.turn)) {
      // Answered on another server of this site (another tab's message was answered with it):
      // the text comes with the end instead of as deltas.
      t = { el: bubble("assistant", m.text), seq: -1 };
      turns.set(m.turn, t);
    }
    shown.add(m.answered_in || m.turn);
    if (t) {
      t.el.classList.remove("typing");
      if (m.stop_reason !== "end_turn") {
        const meta = document.createElement("div"); meta.className = "meta";
        meta.textContent = "(" + m.stop_reason.replace("_", " ") + ")"; t.el.appendChild(meta);
      }
    }
    lastTurn = null;
    stopBtn.disabled = true;
    break;
  }
  case "agent_joined": bubble("agent", m.name + " joined the conversation"); break;
  case "agent_message": bubble("agent", m.text); break;
  case "agent_left": bubble("agent", "The agent left; the assistant is back."); break;
  case "error":
    showError(m.message + (m.retryable ? " (you can try again)" : ""));
    if (m.code === "unauthorized" || m.code === "not_found") {
      token = null; sessionStorage.removeItem("parley.token"); ws.close();
    }
    break;
  }
}
document.getElementById("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const s = text.value.trim();
  if (!s || !ready) return;
  ws.send(JSON.stringify({ type: "message", id: "web-" + Date.now() + "-" + (nextId++), text: s }));
  bubble("caller", s);
  text.value = "";
});
text.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); document.getElementById("form").requestSubmit(); }
});
stopBtn.addEventListener("click", () => ws && ws.send(JSON.stringify({ type: "cancel" })));
connect();
