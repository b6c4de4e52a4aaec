/* Parley agent console (served at /agent): a client of the agent protocol (parley.agent.v1,
 * docs/protocol.md and docs/widget.md): hello with an agent token, list and live session_update,
 * watch (history, then the session's live message/delta/turn_end/agent_* events, each with
 * session_id), unwatch, takeover, say, release. Text from callers, the model and agents is only
 * ever set with textContent. No build step, no dependencies. */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const statusEl = $("status"), loginForm = $("login"), tokenIn = $("token"), loginErr = $("login-error");
  const desk = $("desk"), unavailable = $("unavailable"), list = $("sessions");
  const transcript = $("transcript"), timeline = $("timeline"), handoff = $("handoff");
  const takeoverBtn = $("takeover"), releaseBtn = $("release"), unwatchBtn = $("unwatch");
  const replyText = $("reply-text"), sayBtn = $("say");

  let token = null, ws = null, ready = false, backoff = 500, me = "";
  const sessions = new Map(); // session_id -> session summary
  let watching = null;        // session_id
  let turns = new Map();      // turn -> {el, node, seq, done}

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function setStatus(s) { statusEl.textContent = s; }
  function alertMsg(s) { $("alert").textContent = s; setStatus(s); }
  function out(m) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(m)); }
  function show(which) {
    loginForm.hidden = which !== "login";
    unavailable.hidden = which !== "unavailable";
    desk.hidden = which !== "desk";
  }

  // bot / waiting / agent, whatever spelling of the waiting state the server uses.
  function stateKind(s) {
    if (!s) return "bot";
    if (/^waiting/.test(s)) return "waiting";
    if (s === "agent") return "agent";
    return "bot";
  }
  function badge(state) {
    const k = stateKind(state);
    return el("span", "badge " + k, k === "waiting" ? "waiting" : k);
  }
  function callerName(c) {
    if (!c) return "";
    if (typeof c === "string") return c;
    return c.name || c.id || c.policy_number || "";
  }
  function time(ms) {
    if (!ms) return "";
    const d = new Date(typeof ms === "number" && ms < 1e12 ? ms * 1000 : ms);
    return isNaN(d) ? "" : d.toLocaleTimeString();
  }

  // ---- session list: waiting first (oldest first), then the others (newest first) ----
  function renderList() {
    const all = [...sessions.values()];
    const waitSince = (s) => s.waiting_since || s.updated || 0;
    all.sort((a, b) => {
      const wa = stateKind(a.state) === "waiting", wb = stateKind(b.state) === "waiting";
      if (wa !== wb) return wa ? -1 : 1;
      if (wa) return waitSince(a) - waitSince(b);
      return (b.updated || 0) - (a.updated || 0);
    });
    // Redrawn on every update: a keyboard user keeps the focus on the same conversation.
    const had = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.sessionId : null;
    list.textContent = "";
    if (!all.length) list.appendChild(el("li", "hint", "No live conversations."));
    for (const s of all) {
      const li = el("li");
      const b = el("button");
      b.type = "button";
      b.dataset.sessionId = s.session_id;
      if (s.session_id === watching) b.setAttribute("aria-current", "true");
      b.appendChild(badge(s.state));
      b.appendChild(el("span", null, callerName(s.caller) || "caller"));
      b.appendChild(el("span", "sub", (s.channel || "web") + " · " + time(s.updated)));
      if (stateKind(s.state) === "waiting")
        b.appendChild(el("span", "reason", "Waiting: " + (s.reason || s.escalation_reason || "asked for a person")));
      if (s.last_text) b.appendChild(el("span", "last", s.last_text));
      b.addEventListener("click", () => watch(s.session_id));
      li.appendChild(b);
      list.appendChild(li);
      if (had && had === s.session_id) b.focus();
    }
  }
  function updateSession(s) {
    if (!s || !s.session_id) return;
    const old = sessions.get(s.session_id) || {};
    if (s.state === "closed" || s.state === "ended" || s.removed) sessions.delete(s.session_id);
    else sessions.set(s.session_id, Object.assign({}, old, s));
    renderList();
    if (s.session_id === watching) renderControls();
  }

  // ---- the watched session ----
  function renderControls() {
    const s = sessions.get(watching) || {};
    const k = stateKind(s.state);
    const w = $("watch-state");
    w.textContent = "";
    if (watching) w.appendChild(badge(s.state));
    takeoverBtn.disabled = !watching || k === "agent";
    releaseBtn.disabled = !watching || k !== "agent";
    unwatchBtn.disabled = !watching;
    replyText.disabled = sayBtn.disabled = !watching || k !== "agent";
    replyText.placeholder = k === "agent" ? "Reply to the caller" : "Take over to reply";
  }
  function scroll() { transcript.scrollTop = transcript.scrollHeight; }
  function bubble(role, text, who) {
    const b = el("div", "msg " + (role === "caller" || role === "agent" ? role : "assistant"));
    b.appendChild(el("span", "who", who || (role === "caller" ? "Caller" : role === "agent" ? "Agent" : "Assistant")));
    const node = document.createTextNode(text || "");
    b.appendChild(node);
    transcript.appendChild(b);
    scroll();
    return { el: b, node };
  }
  function notice(s) { transcript.appendChild(el("div", "notice", s)); scroll(); $("announce").textContent = s; }
  function isAudit(m) { return m.role === "audit" || m.type === "audit" || m.kind === "audit"; }
  function audit(m) {
    const what = m.action || m.event || m.text || "action";
    const who = m.agent || m.name || m.sub || "";
    timeline.appendChild(el("li", null, [time(m.ts), who, what].filter(Boolean).join(" · ")));
  }
  // The handoff packet told at takeover (docs/protocol.md "Takeover"): text nodes only.
  function renderHandoff(p) {
    if (!p) return;
    const dl = $("handoff-list");
    dl.textContent = "";
    const row = (k, v) => { if (v === undefined || v === null || v === "") return; dl.append(el("dt", null, k), el("dd", null, String(v))); };
    const how = { verified: "verified (second factor checked)", contact_flow: "identified by the contact flow", sign_in: "signed in on the website", none: "not verified" };
    const c = p.caller || {};
    row("Caller", [c.name, c.id].filter(Boolean).join(" · ") || "unknown");
    row("Identity", (how[c.identified_by] || c.identified_by || "") + (c.policy_number ? ", policy " + c.policy_number : ""));
    row("Reason", p.reason);
    if (p.waiting_since) row("Waiting since", time(p.waiting_since));
    row("Summary", p.summary);
    row("Last question", p.question);
    (p.sources || []).forEach((x) => row("Cited", x.title ? x.title + " (" + x.source + ")" : x.source));
    (p.passages || []).forEach((x, i) => row("Passage " + (i + 1), [x.title || x.source, x.text].filter(Boolean).join("\n")));
    handoff.hidden = !dl.firstChild;
  }
  function clearWatch() {
    transcript.textContent = "";
    timeline.textContent = "";
    $("handoff-list").textContent = "";
    handoff.hidden = true;
    turns = new Map();
  }
  function watch(sid) {
    if (watching && watching !== sid) out({ type: "unwatch", session_id: watching });
    watching = sid;
    clearWatch();
    const s = sessions.get(sid) || {};
    $("watch-title").textContent = "Conversation " + (callerName(s.caller) || sid.slice(0, 8));
    renderList();
    renderControls();
    out({ type: "watch", session_id: sid });
  }
  function turn(n) {
    let t = turns.get(n);
    if (!t) {
      const b = bubble("assistant", "");
      b.el.classList.add("typing");
      t = { el: b.el, node: b.node, seq: -1, done: false };
      turns.set(n, t);
    }
    return t;
  }

  function onSessionEvent(m) {
    if (m.handoff) renderHandoff(m.handoff);
    switch (m.type) {
    case "history":
      clearWatch();
      for (const h of m.messages || []) {
        if (isAudit(h)) { audit(h); continue; }
        const b = bubble(h.role, h.text, h.role === "agent" ? h.name || h.agent : null);
        if (h.role === "assistant" && h.turn) turns.set(h.turn, { el: b.el, node: b.node, seq: Infinity, done: true });
      }
      if (m.partial && m.partial.turn) { const t = turn(m.partial.turn); t.node.nodeValue = m.partial.text || ""; t.seq = m.partial.seq ?? -1; }
      for (const a of m.audit || []) audit(a);
      break;
    case "message":
      if (isAudit(m)) audit(m);
      else bubble(m.role || "caller", m.text, m.role === "agent" ? m.name || m.agent : null);
      break;
    case "turn_start": turn(m.turn); break;
    case "delta": {
      const t = turn(m.turn);
      if (m.seq !== t.seq + 1) break;
      t.node.nodeValue += m.text;
      t.seq = m.seq;
      scroll();
      break;
    }
    case "turn_end": {
      const t = turns.get(m.turn) || (typeof m.text === "string" ? turn(m.turn) : null);
      if (!t) break;
      if (typeof m.text === "string" && m.text !== t.node.nodeValue) t.node.nodeValue = m.text;
      t.done = true;
      t.el.classList.remove("typing");
      if (m.stop_reason && m.stop_reason !== "end_turn") t.el.appendChild(el("span", "who", "(" + m.stop_reason.replace(/_/g, " ") + ")"));
      break;
    }
    case "agent_joined": notice((m.name || m.agent || "An agent") + " took over"); break;
    case "agent_message": bubble("agent", m.text, m.name || m.agent); break;
    case "agent_left": notice("Handed back to the bot"); break;
    case "audit": audit(m); break;
    case "handoff": renderHandoff(m.packet || m); break;
    }
  }

  function handle(m) {
    if (m.session_id && m.type !== "session_update" && m.type !== "error" && m.type !== "unwatched") {
      if (m.session_id === watching) onSessionEvent(m);
      return;
    }
    switch (m.type) {
    case "ready":
      ready = true;
      backoff = 500;
      me = m.agent || m.sub || "";
      $("who").textContent = me ? "signed in as " + me : "";
      setStatus("connected");
      show("desk");
      out({ type: "list" });
      if (watching) watch(watching);
      break;
    case "sessions":
      sessions.clear();
      for (const s of m.sessions || []) sessions.set(s.session_id, s);
      renderList();
      break;
    case "session_update": updateSession(m.session || m); break;
    case "unwatched": break;
    case "error":
      if (!ready) {
        // The token was refused: ask again rather than retrying it.
        token = null;
        loginErr.textContent = (m.code === "forbidden" ? "This token may not use the agent desk (an agent or admin token is needed). " : "") + (m.message || m.code);
        if (ws) { const w = ws; ws = null; w.close(); }
        setStatus("not connected");
        show("login");
        tokenIn.focus();
      } else {
        alertMsg((m.session_id ? "Conversation " + m.session_id.slice(0, 8) + ": " : "") + (m.message || m.code));
      }
      break;
    }
  }

  async function serverUp() {
    try { return (await fetch("/healthz", { cache: "no-store" })).ok; } catch (e) { return false; }
  }

  function connect() {
    if (!token) { show("login"); return; }
    setStatus("connecting…");
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/agent";
    let opened = false;
    const sock = new WebSocket(url, "parley.agent.v1");
    ws = sock;
    sock.onopen = () => { opened = true; sock.send(JSON.stringify({ type: "hello", token })); };
    sock.onmessage = (ev) => { try { handle(JSON.parse(ev.data)); } catch (e) { /* not JSON */ } };
    sock.onclose = async () => {
      if (ws !== sock) return;
      ws = null;
      const wasReady = ready;
      ready = false;
      if (!opened && !wasReady) {
        if (await serverUp()) {
          // The server answers, but not on /v1/agent: it has no agent desk.
          setStatus("agent desk not available");
          show("unavailable");
          $("retry").focus();
          return;
        }
      }
      setStatus("reconnecting…");
      setTimeout(connect, backoff * (0.75 + Math.random() / 2));
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  loginForm.addEventListener("submit", (e) => {
    e.preventDefault();
    token = tokenIn.value.trim();
    tokenIn.value = "";
    loginErr.textContent = "";
    if (token) connect();
  });
  $("retry").addEventListener("click", () => connect());
  takeoverBtn.addEventListener("click", () => out({ type: "takeover", session_id: watching }));
  releaseBtn.addEventListener("click", () => out({ type: "release", session_id: watching }));
  unwatchBtn.addEventListener("click", () => {
    out({ type: "unwatch", session_id: watching });
    watching = null;
    clearWatch();
    transcript.appendChild(el("p", null, "Choose a conversation on the left to watch it live."));
    $("watch-title").textContent = "No conversation selected";
    renderList();
    renderControls();
  });
  $("reply").addEventListener("submit", (e) => {
    e.preventDefault();
    const s = replyText.value.trim();
    if (!s || !watching) return;
    out({ type: "say", session_id: watching, text: s });
    replyText.value = "";
  });
  replyText.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("reply").requestSubmit(); }
  });

  // A link may carry the token in its fragment (never sent to the server); it is taken out of
  // the address bar at once.
  const frag = new URLSearchParams(location.hash.slice(1));
  if (frag.get("token")) {
    token = frag.get("token");
    history.replaceState(null, "", location.pathname + location.search);
    connect();
  } else {
    show("login");
    tokenIn.focus();
  }
})();
