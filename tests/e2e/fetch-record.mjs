// What the *-unit tests check an API client's calls with: for one test, `fetch` records each
// call as [method, url, body parsed from JSON] and answers 200 `{}`; the real one is back after.
export function recordCalls(t) {
  const realFetch = globalThis.fetch;
  t.after(() => (globalThis.fetch = realFetch));
  const sent = [];
  globalThis.fetch = async (url, init = {}) => {
    sent.push([init.method ?? "GET", url, init.body === undefined ? undefined : JSON.parse(init.body)]);
    return new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } });
  };
  return sent;
}
