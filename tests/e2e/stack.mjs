// Starts what the browser tests run against: the fake OpenAI upstream (in this process), with
// `mail` a real SMTP server that keeps what it is sent (tests/smtp/smtp_sink.py), and the whole
// app through `make dev` (its own process group, so stopping it also stops cargo and the server
// it runs), on free ports with a throw-away SQLite database.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TITLE_MODEL, TONGUE_MODEL, startFakeOpenAI } from "./fake-openai.mjs";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const ADMIN_EMAIL = "admin@example.com";

/**
 * A free port for a server the tests start, from outside the kernel's ephemeral range (where
 * outgoing connections get their local ports: one taken from port 0 may be handed to another
 * program's connection before `make dev` binds it), picked at random and checked free. The same
 * rule as the Rust tests' `test_support::ports`.
 */
export async function freePort() {
  let [low, high] = [32768, 60999];
  try {
    [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  } catch {
    // not Linux: the default range
  }
  const ranges = [[20000, low - 1], [high + 1, 65535]].filter(([from, to]) => from <= to);
  const total = ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0);
  for (let attempt = 0; attempt < 1000; attempt++) {
    let pick = Math.floor(Math.random() * total);
    let port = 0;
    for (const [from, to] of ranges) {
      if (pick <= to - from) {
        port = from + pick;
        break;
      }
      pick -= to - from + 1;
    }
    const free = await new Promise((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port outside the ephemeral range");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The SMTP sink: `python3 tests/smtp/smtp_sink.py --dir <dir> --port 0`, started and waited for
 * (it prints `READY <port>`). Resolves to `{port, dir, stop()}`.
 */
function startSmtpSink(dir, { timeoutMs = 10_000 } = {}) {
  mkdirSync(dir, { recursive: true });
  const child = spawn("python3", [join(ROOT, "tests/smtp/smtp_sink.py"), "--dir", dir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if ((await Promise.race([exited, sleep(5000).then(() => "timeout")])) === "timeout") child.kill("SIGKILL");
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the SMTP sink did not say READY within ${timeoutMs / 1000}s:\n${output}`));
    }, timeoutMs);
    const seen = (chunk) => {
      output += chunk;
      const ready = /READY (\d+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve({ port: Number(ready[1]), dir, stop, kill: () => child.kill("SIGKILL") });
      }
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the SMTP sink exited (${code}) before READY:\n${output}`));
    });
  });
}

/**
 * The mail the sink has received. `next(to, {match, timeoutMs})` waits (10 s at most) for the
 * first message to `to` not handed out before (and for which `match(message)` holds), and
 * returns it: `{mailFrom, rcptTos, from, to, subject, text, html, headers}`. `all()` lists every
 * message so far.
 */
export function mailbox(dir) {
  const taken = new Set();
  const read = () => readdirSync(dir).filter((name) => name.endsWith(".json")).sort()
    .map((name) => ({ name, ...JSON.parse(readFileSync(join(dir, name), "utf8")) }));
  const addressed = (message, to) => [...(message.rcptTos ?? []), message.to ?? ""].some((r) => r.toLowerCase().includes(to.toLowerCase()));
  return {
    all: read,
    async next(to, { match = () => true, timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = read().find((message) => !taken.has(message.name) && addressed(message, to) && match(message));
        if (found) {
          taken.add(found.name);
          return found;
        }
        if (Date.now() > deadline) {
          const seen = read().map((m) => `${m.name} to ${m.rcptTos?.join(",")}: ${m.subject}`).join("\n  ");
          throw new Error(`no mail to ${to} within ${timeoutMs / 1000}s; the sink holds:\n  ${seen || "(nothing)"}`);
        }
        await sleep(100);
      }
    },
  };
}

/** The site link of `kind` ("reset" or "verify") in a mail's text: `<SITE_URL>/#/<kind>/<token>`. */
export function mailLink(message, kind) {
  const link = new RegExp(`https?://[^\\s"<>]+/#/${kind}/[^\\s"<>]+`).exec(message.text ?? "")?.[0];
  if (!link) throw new Error(`no #/${kind}/ link in the mail "${message.subject}":\n${message.text}`);
  return link;
}

/**
 * Starts the stack. Resolves to `{base, upstream, env, mail, mailDir, stop}`. `readyTimeoutMs` bounds the
 * wait for GET /api/health (the first `make dev` compiles the backend: minutes). `mail` (true, or
 * `{verification}`: "off", "optional" (the default) or "required") also starts the SMTP sink and
 * points the app at it; `mail` in the answer is then its `mailbox()`. `moderation: true` checks
 * messages and replies with the fake's OpenAI-form moderation endpoint. `port`: the port to serve
 * on (default a free one), when something started first must know the site's origin.
 */
export async function startStack({ readyTimeoutMs = 10 * 60_000, env: extraEnv = {}, mail = null, moderation = false, port: askedPort = null, log = () => {} } = {}) {
  const upstream = await startFakeOpenAI();
  const work = mkdtempSync(join(tmpdir(), "oracle-tcm-e2e-"));
  const port = askedPort ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  let sink = null;
  const mailEnv = {};
  if (mail) {
    try {
      sink = await startSmtpSink(join(work, "mail"));
    } catch (error) {
      await upstream.close();
      rmSync(work, { recursive: true, force: true });
      throw error;
    }
    Object.assign(mailEnv, {
      SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      MAIL_FROM: "Oracle <noreply@example.com>",
      SITE_URL: base,
      EMAIL_VERIFICATION: (typeof mail === "object" && mail.verification) || "optional",
    });
  }
  const env = {
    PORT: String(port),
    DATABASE_URL: `sqlite://${work}/e2e.db?mode=rwc`,
    STORAGE_DIR: join(work, "uploads"), // pictures (the local directory), thrown away with the run
    ADMIN_EMAILS: ADMIN_EMAIL,
    OPENAI_API_KEY: "test",
    OPENAI_BASE_URL: upstream.baseUrl,
    OPENAI_MODEL: "test-model",
    CHAT_TITLE_MODEL: TITLE_MODEL, // "e2e-title-model": answered with a fixed title
    CHAT_TONGUE_MODEL: TONGUE_MODEL, // "e2e-tongue-model": answered with fixed observations
    RUST_LOG: "warn",
    // Fast password hashing, and room for the many registrations and logins of one run.
    BCRYPT_COST: "4",
    RATE_LIMIT_REGISTER_IP: "200/1h",
    RATE_LIMIT_LOGIN_IP: "200/5m",
    // http://localhost:<port> is another origin than http://127.0.0.1:<port>: the cross-origin
    // test (cors.test.mjs) calls the API from there, as the site on ESA Pages calls FC's domain.
    ALLOWED_ORIGINS: `http://localhost:${port}`,
    ...mailEnv,
    ...(moderation
      ? { MODERATION_PROVIDER: "openai", MODERATION_OPENAI_BASE_URL: upstream.baseUrl, MODERATION_OPENAI_API_KEY: "test" }
      : {}),
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
  const onExit = () => {
    killGroup("SIGKILL");
    sink?.kill();
  };
  const onSignal = (signal) => {
    killGroup("SIGKILL");
    sink?.kill();
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
    await sink?.stop();
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
  return { base, upstream, env, mail: sink ? mailbox(sink.dir) : null, mailDir: sink?.dir ?? null, uploads: env.STORAGE_DIR, stop, output: () => output };
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
// `node tests/e2e/stack.mjs --mail`: with the SMTP sink too (its directory is printed).
if (import.meta.url === `file://${process.argv[1]}`) {
  const withMail = process.argv.includes("--mail");
  const stack = await startStack({ mail: withMail, log: (line) => process.stderr.write(line) });
  console.log(`site: ${stack.base}  (fake model: ${stack.upstream.baseUrl}; admin: ${ADMIN_EMAIL}); Ctrl-C stops it`);
  if (withMail) console.log(`mail: ${stack.env.SMTP_URL}, kept as JSON files in ${stack.mailDir}`);
}
