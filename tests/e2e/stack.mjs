// Starts what the browser tests run against: the fake OpenAI upstream (in this process) and the
// whole app through `make dev` (its own process group, so stopping it also stops cargo and the
// server it runs), on free ports with a throw-away SQLite database.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TITLE_MODEL, startFakeOpenAI } from "./fake-openai.mjs";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const ADMIN_EMAIL = "admin@example.com";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the stack. Resolves to `{base, upstream, env, stop}`. `readyTimeoutMs` bounds the wait
 * for GET /api/health (the first `make dev` compiles the backend: minutes).
 */
export async function startStack({ readyTimeoutMs = 10 * 60_000, env: extraEnv = {}, log = () => {} } = {}) {
  const upstream = await startFakeOpenAI();
  const work = mkdtempSync(join(tmpdir(), "oracle-tcm-e2e-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    PORT: String(port),
    DATABASE_URL: `sqlite://${work}/e2e.db?mode=rwc`,
    ADMIN_EMAILS: ADMIN_EMAIL,
    OPENAI_API_KEY: "test",
    OPENAI_BASE_URL: upstream.baseUrl,
    OPENAI_MODEL: "test-model",
    CHAT_TITLE_MODEL: TITLE_MODEL, // "e2e-title-model": answered with a fixed title
    RUST_LOG: "warn",
    // Fast password hashing, and room for the many registrations and logins of one run.
    BCRYPT_COST: "4",
    RATE_LIMIT_REGISTER_IP: "200/1h",
    RATE_LIMIT_LOGIN_IP: "200/5m",
    ...extraEnv,
  };
  const child = spawn("make", ["--no-print-directory", "dev"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true, // its own process group: make, cargo and the server stop together
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk).slice(-20_000);
    log(String(chunk));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  const exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve((exited = { code, signal }))));
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // If this process ends first (an error, Ctrl-C, a runner's timeout), do not leave the server behind.
  const onExit = () => killGroup("SIGKILL");
  const onSignal = (signal) => {
    killGroup("SIGKILL");
    rmSync(work, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("exit", onExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  async function stop() {
    process.removeListener("exit", onExit);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    if (!exited) {
      killGroup("SIGTERM");
      const timeout = sleep(10_000).then(() => "timeout");
      if ((await Promise.race([exit, timeout])) === "timeout") {
        killGroup("SIGKILL");
        await exit;
      }
    }
    await upstream.close();
    rmSync(work, { recursive: true, force: true });
  }

  const deadline = Date.now() + readyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (exited) {
      await stop();
      throw new Error(`make dev exited (${JSON.stringify(exited)}) before answering /api/health:\n${output}`);
    }
    try {
      const response = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`make dev did not answer ${base}/api/health within ${readyTimeoutMs / 1000}s:\n${output}`);
    }
    await sleep(Math.min(250 * 2 ** Math.min(attempt, 3), 2000));
  }
  return { base, upstream, env, stop, output: () => output };
}

/** The same API calls the site makes, from Node (to set up data quickly). */
export function apiClient(base) {
  return async function call(method, path, { token, body } = {}) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: response.status, headers: response.headers, body: json };
  };
}

// `node tests/e2e/stack.mjs`: the stack for trying the site by hand, until Ctrl-C.
if (import.meta.url === `file://${process.argv[1]}`) {
  const stack = await startStack({ log: (line) => process.stderr.write(line) });
  console.log(`site: ${stack.base}  (fake model: ${stack.upstream.baseUrl}; admin: ${ADMIN_EMAIL}); Ctrl-C stops it`);
}
