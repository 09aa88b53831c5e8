// Checks of issue 27's site pieces that need no browser and no server: the pictures' calls of
// api.js (routes and bodies), the upload itself (api-pictures.js, against a recording
// XMLHttpRequest: the form's fields in order and the file last, progress, a refusal, a stop),
// the address a link is read at, and every text of i18n-pictures.js in both languages, clashing
// with no other text.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import { recordCalls } from "./fetch-record.mjs";
import { assertStrings } from "./i18n-check.mjs";

const SITE = join(new URL("../..", import.meta.url).pathname, "frontend-dist");
const load = (file) => import(pathToFileURL(join(SITE, file)).href);
const api = await load("api.js");
const { PICTURE_STRINGS } = await load("i18n-pictures.js");
const others = await Promise.all(
  ["i18n-account.js", "i18n-admin.js", "i18n-usage.js", "i18n-trust.js", "i18n-oracle.js", "i18n-constitution.js"].map(load),
);

test("the pictures' calls go to their routes, with their bodies", async (t) => {
  const sent = recordCalls(t);
  await api.requestUpload({ contentType: "image/png", size: 1234 });
  await api.requestUpload({ contentType: "image/jpeg", size: 99, purpose: "tongue" });
  await api.deleteAttachment("a/b");
  assert.deepEqual(sent, [
    ["POST", "/api/attachments", { contentType: "image/png", size: 1234 }],
    ["POST", "/api/attachments", { contentType: "image/jpeg", size: 99, purpose: "tongue" }],
    ["DELETE", "/api/attachments/a%2Fb", undefined],
  ]);
});

test("a link of the bucket is read as it is; a path of the API's under the API's base", () => {
  assert.equal(api.pictureUrl("https://img.example.com/chat-img/a.png?x-oss-signature=1"), "https://img.example.com/chat-img/a.png?x-oss-signature=1");
  assert.equal(api.pictureUrl("/api/attachments/local-file?key=k"), `${api.API_BASE_URL}/api/attachments/local-file?key=k`);
});

/** An XMLHttpRequest that records what is sent and answers `status` (after one progress event). */
function fakeXhr(t, status) {
  const real = globalThis.XMLHttpRequest;
  t.after(() => (globalThis.XMLHttpRequest = real));
  const seen = [];
  globalThis.XMLHttpRequest = class {
    upload = {};
    open(method, url) {
      this.method = method;
      this.url = url;
    }
    abort() {
      this.aborted = true;
      this.onabort?.();
      this.onloadend?.();
    }
    send(form) {
      seen.push({ method: this.method, url: this.url, fields: [...form.entries()].map(([name, value]) => [name, typeof value === "string" ? value : `file:${value.size}`]) });
      setTimeout(() => {
        if (this.aborted) return;
        this.upload.onprogress?.({ loaded: 5, total: 10, lengthComputable: true });
        this.status = status;
        if (status === 0) this.onerror?.();
        else this.onload?.();
        this.onloadend?.();
      }, 5);
    }
  };
  return seen;
}

const form = { url: "https://bucket.example.com/", fields: [{ name: "key", value: "chat-img/a.png" }, { name: "Content-Type", value: "image/png" }, { name: "policy", value: "p" }] };
const picture = new Blob([new Uint8Array(10)], { type: "image/png" });

test("the upload posts the form's fields in order, then the file, and reports its progress", async (t) => {
  const seen = fakeXhr(t, 204);
  const progress = [];
  await api.uploadPicture(form, picture, { onProgress: (sent, total) => progress.push([sent, total]) });
  assert.deepEqual(seen, [{
    method: "POST", url: "https://bucket.example.com/",
    fields: [["key", "chat-img/a.png"], ["Content-Type", "image/png"], ["policy", "p"], ["file", "file:10"]],
  }]);
  assert.deepEqual(progress, [[5, 10], [10, 10]]);
  // A path of the API's (the local directory) goes under the API's base.
  await api.uploadPicture({ ...form, url: "/api/attachments/local-upload" }, picture);
  assert.equal(seen[1].url, `${api.API_BASE_URL}/api/attachments/local-upload`);
});

test("a refused upload, one that never arrives and one stopped reject, each as itself", async (t) => {
  fakeXhr(t, 403);
  await assert.rejects(api.uploadPicture(form, picture), (error) => error.code === "upload_refused" && error.status === 403);
  fakeXhr(t, 0);
  await assert.rejects(api.uploadPicture(form, picture), (error) => error.code === "network_error");
  fakeXhr(t, 204);
  const controller = new AbortController();
  const stopped = api.uploadPicture(form, picture, { signal: controller.signal });
  controller.abort();
  await assert.rejects(stopped, (error) => error.name === "AbortError");
});

test("every text of i18n-pictures.js is in Chinese and in English, with the same placeholders, and clashes with no other text", () => {
  assertStrings("i18n-pictures.js", PICTURE_STRINGS, others.flatMap((module) => Object.values(module)));
});
