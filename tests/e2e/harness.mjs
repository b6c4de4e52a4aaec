// Shared pieces of the browser tests: free ports, child processes (redis-server, parleyd), a
// static "customer site" server, a TCP relay the test can cut, Chromium launch options, and
// screenshots kept under the build folder (PARLEY_ARTIFACTS_DIR).
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const SECRET = "e2e-test-secret-0123456789abcdef";
export const bin = process.env.PARLEY_BIN_DIR;
if (!bin) throw new Error("set PARLEY_BIN_DIR to the build folder");

export async function loadChromium() {
  try {
    return (await import("playwright-core")).chromium;
  } catch {
    console.error("playwright-core is missing: run `npm ci` in tests/e2e (scripts/test does it)");
    process.exit(1);
  }
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitPort(port, child, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`${child.spawnfile} exited early`);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

// Poll `fn` until it returns a truthy value, or fail after `ms` with `what`.
export async function until(fn, what, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class Stack {
  constructor(name) {
    this.children = [];
    this.servers = [];
    this.work = mkdtempSync(path.join(os.tmpdir(), `parley-${name}-`));
    this.artifacts = path.join(process.env.PARLEY_ARTIFACTS_DIR || path.join(bin, "e2e-artifacts"), name);
    rmSync(this.artifacts, { recursive: true, force: true });
    mkdirSync(this.artifacts, { recursive: true });
    this.shot = 0;
  }

  start(cmd, args, env) {
    const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"],
      env: env ? { ...process.env, ...env } : process.env });
    this.children.push(child);
    return child;
  }

  async redis() {
    const port = await freePort();
    const child = this.start("redis-server", ["--port", String(port), "--bind", "127.0.0.1",
      "--dir", this.work, "--save", "", "--appendonly", "yes", "--loglevel", "warning"]);
    await waitPort(port, child);
    return port;
  }

  async parleyd(redisPort, extra = []) {
    const port = await freePort();
    const child = this.start(path.join(bin, "parleyd"), ["--listen", `127.0.0.1:${port}`,
      "--redis", `redis://127.0.0.1:${redisPort}/0`, "--provider", "local",
      "--jwt-secret", SECRET, "--log-level", "warn", "--log-format", "text", ...extra]);
    await waitPort(port, child);
    return { port, url: `http://127.0.0.1:${port}`, child };
  }

  // An HTTP server on a fresh port answering with `handler(req, res)`; `onUpgrade` optional.
  async http(handler, onUpgrade) {
    const server = http.createServer(handler);
    if (onUpgrade) server.on("upgrade", onUpgrade);
    this.servers.push(server);
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address();
    return { port, origin: `http://127.0.0.1:${port}`, server };
  }

  // A TCP relay to `port`; drop() cuts every connection through it at once, as a crashed server
  // or a broken network would (no close frame). mute("up") loses what browsers send from then
  // on, mute("down") what the server sends (counted in `lost`), until the next drop().
  async relay(port) {
    const pairs = new Set();
    const mute = { up: false, down: false };
    const state = { lost: 0 };
    const server = net.createServer((a) => {
      const b = net.connect(port, "127.0.0.1");
      const pair = [a, b];
      pairs.add(pair);
      a.on("data", (d) => { if (mute.up) state.lost += d.length; else b.write(d); });
      b.on("data", (d) => { if (mute.down) state.lost += d.length; else a.write(d); });
      const end = () => { a.destroy(); b.destroy(); pairs.delete(pair); };
      a.on("error", end); b.on("error", end); a.on("close", end); b.on("close", end);
    });
    this.servers.push(server);
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const p = server.address().port;
    return {
      port: p,
      url: `http://127.0.0.1:${p}`,
      get lost() { return state.lost; },
      mute(dir) { mute[dir] = true; state.lost = 0; },
      drop() {
        const n = pairs.size;
        for (const [a, b] of [...pairs]) { a.destroy(); b.destroy(); }
        pairs.clear();
        mute.up = mute.down = false;
        return n;
      },
    };
  }

  token(role, sub) {
    return execFileSync(path.join(bin, "parley"),
      ["token", "--role", role, "--sub", sub, "--jwt-secret", SECRET]).toString().trim();
  }

  async browser(chromium) {
    this.chrome = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    return this.chrome;
  }

  // A numbered screenshot of this step, kept as a test artifact.
  async screenshot(page, step) {
    this.shot++;
    const file = path.join(this.artifacts, `${String(this.shot).padStart(2, "0")}-${step}.png`);
    await page.screenshot({ path: file });
    return file;
  }

  async stop() {
    if (this.chrome) await this.chrome.close().catch(() => {});
    for (const s of this.servers) { s.closeAllConnections?.(); s.close(); }
    for (const c of this.children.reverse()) c.kill("SIGTERM");
    await Promise.all(this.children.map((c) => c.exitCode !== null ? null
      : new Promise((r) => { c.once("exit", r); setTimeout(r, 3000); })));
    rmSync(this.work, { recursive: true, force: true });
  }
}

// Runs named steps in order; a failing step fails the test (exit 1) and stops the rest.
export async function runSteps(stack, steps) {
  let failed = false;
  try {
    for (const [name, fn] of steps) {
      try {
        await fn();
      } catch (e) {
        console.error(`FAIL ${name}`);
        throw e;
      }
      console.log(`ok   ${name}`);
    }
  } catch (e) {
    failed = true;
    console.error(e);
  } finally {
    await stack.stop();
  }
  process.exit(failed ? 1 : 0);
}

// The server side of one WebSocket (RFC 6455), enough for a protocol double: accepts the
// handshake of an http 'upgrade' event with `protocol`, calls onText(object) for each text
// frame (JSON), and returns send(object) and close().
export function acceptWebSocket(req, socket, protocol, onText) {
  const key = req.headers["sec-websocket-key"];
  const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
    `sec-websocket-accept: ${accept}\r\nsec-websocket-protocol: ${protocol}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  const frame = (op, payload) => {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | op, n])
      : n < 65536 ? Buffer.from([0x80 | op, 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x80 | op, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
    if (!socket.destroyed) socket.write(Buffer.concat([head, payload]));
  };
  socket.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 15;
      let len = buf[1] & 127, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const data = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
      buf = buf.subarray(off + 4 + len);
      if (op === 1) onText(JSON.parse(data.toString("utf8")));
      else if (op === 8) { frame(8, Buffer.alloc(0)); socket.end(); return; }
      else if (op === 9) frame(10, data);
    }
  });
  socket.on("error", () => {});
  return {
    send(obj) { frame(1, Buffer.from(JSON.stringify(obj))); },
    close() { frame(8, Buffer.alloc(0)); socket.end(); },
  };
}
