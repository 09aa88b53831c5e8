// Every HTTP method the API serves, called from another origin in headless Chromium, as the site
// on ESA Pages calls the functions' custom domain: the preflight must allow the method (CORS
// `allow_methods`), or the browser refuses the call ("Failed to fetch") before it is sent. The
// methods come from openapi.json, which a Rust test keeps equal to the route table, so a route
// with a new method fails here until CORS (and s.yaml, checked by crates/deploy-check) allow it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { close, closeBrowser, launchBrowser, open } from "./browser.mjs";
import { ROOT, apiClient, startStack } from "./stack.mjs";

let stack;
let api;

before(async () => {
  stack = await startStack();
  api = apiClient(stack.base);
  await launchBrowser(stack);
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

/** The methods of every operation in openapi.json, upper-case. */
function servedMethods() {
  const spec = JSON.parse(readFileSync(join(ROOT, "openapi.json"), "utf8"));
  const methods = new Set();
  for (const item of Object.values(spec.paths)) {
    for (const method of Object.keys(item)) {
      if (["get", "put", "post", "delete", "options", "head", "patch", "trace"].includes(method)) methods.add(method.toUpperCase());
    }
  }
  return [...methods].sort();
}

test("every method the API serves works from another origin (the site's origin is not the API's)", async () => {
  // An account with a conversation and a reply to rate, made through the API directly.
  const email = "cross-origin@example.com";
  const { body: registered } = await api("POST", "/api/auth/register", { body: { email, password: "a good password" } });
  const token = registered.token;
  const { body: turn } = await api("POST", "/api/chat", {
    token, body: { type: "oracle", locale: "en", messages: [{ role: "user", content: "A question from elsewhere" }] },
  });
  const conversation = turn.conversationId;
  const { body: history } = await api("GET", `/api/chat/conversations/${conversation}`, { token });
  const reply = history.messages.find((message) => message.role === "assistant").id;
  const feedback = `/api/chat/conversations/${conversation}/messages/${reply}/feedback`;

  // One real call per method, each expected to succeed.
  const calls = {
    GET: ["/api/auth/session", undefined, 200],
    POST: ["/api/account/sessions/revoke-others", undefined, 200],
    PUT: [feedback, { rating: "up", comment: "from another origin" }, 200],
    PATCH: [`/api/chat/conversations/${conversation}`, { title: "Renamed from elsewhere" }, 200],
    DELETE: [feedback, undefined, 204],
  };
  const methods = servedMethods();
  assert.ok(methods.includes("PUT"), `the route table is read: ${methods}`);
  for (const method of methods) assert.ok(calls[method], `no cross-origin call for ${method}: add one to this test`);

  // The page's origin is http://localhost:<port>; the API is called at http://127.0.0.1:<port>.
  const apiBase = stack.base;
  const siteOrigin = apiBase.replace("127.0.0.1", "localhost");
  const page = await open({ base: siteOrigin });
  assert.equal(await page.evaluate(() => location.origin), siteOrigin);
  // In the order of `calls` (the rating before its withdrawal).
  for (const method of Object.keys(calls).filter((method) => methods.includes(method))) {
    const [path, body, expected] = calls[method];
    const outcome = await page.evaluate(async ({ url, method, token, body }) => {
      try {
        const response = await fetch(url, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: response.status, requestId: response.headers.get("x-request-id") };
      } catch (error) {
        return { error: String(error) };
      }
    }, { url: apiBase + path, method, token, body });
    assert.equal(outcome.error, undefined, `${method} ${path} from ${siteOrigin}: ${outcome.error}`);
    assert.equal(outcome.status, expected, `${method} ${path}`);
    assert.ok(outcome.requestId, `${method}: the exposed x-request-id is readable cross-origin`);
  }
  // The calls did what they say.
  const { body: after } = await api("GET", `/api/chat/conversations/${conversation}`, { token });
  assert.equal(after.conversation?.title ?? after.title, "Renamed from elsewhere");
  assert.equal(after.messages.find((message) => message.id === reply).feedback, null, "rated, then withdrawn");
  await close(page);
});

test("a method the API does not allow is refused by the preflight", async () => {
  const page = await open({ base: stack.base.replace("127.0.0.1", "localhost") });
  const outcome = await page.evaluate(async (url) => {
    try {
      await fetch(url, { method: "PROPFIND", headers: { Authorization: "Bearer x" } });
      return "sent";
    } catch (error) {
      return String(error);
    }
  }, `${stack.base}/api/auth/session`);
  assert.match(outcome, /Failed to fetch/);
  await close(page);
});
