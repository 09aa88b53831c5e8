// Pictures sent with messages (issue 27), re-exported by api.js: ask the API for an upload form,
// post the picture with it straight to the bucket (never through the API: the form's address is
// the bucket's, or, with `make dev`'s local directory, a path of the API's), with its progress;
// delete one not sent; and the address a picture's link is shown at.
import { API_BASE_URL, ApiError, apiRequest, json, path } from "./api-http.js";

/**
 * An upload form for one picture of `contentType` and `size` bytes: `{attachment: {id,
 * contentType, size, purpose, url, urlExpiresAt}, upload: {url, fields: [{name, value}],
 * expiresAt}}` (201). 422 unsupported_picture_type, picture_too_large, empty_picture; 403
 * storage_full; 429 rate_limited; 503 pictures_not_offered.
 */
export function requestUpload({ contentType, size, purpose }) {
  return apiRequest("/api/attachments", json("POST", { contentType, size, ...(purpose ? { purpose } : {}) }));
}

/** Deletes a picture not sent yet (its object too). */
export function deleteAttachment(id) {
  return apiRequest(`/api/attachments/${path(id)}`, { method: "DELETE" });
}

/** Where a link the API handed out is read: a bucket's link as it is, a path of the API's under its base. */
export function pictureUrl(url) {
  return typeof url === "string" && url.startsWith("/") ? `${API_BASE_URL}${url}` : url;
}

/**
 * Posts `file` with the form `upload` (`{url, fields}`): the fields in order, then the file, as
 * `multipart/form-data`. Reports `onProgress(sent, total)` as it goes (XMLHttpRequest: fetch
 * has no upload progress) and stops on `signal`. Resolves when stored; rejects with an ApiError
 * (`upload_refused` when the bucket refused it: an expired form, a file that is not what it
 * claimed; `network_error` when it never arrived; an AbortError when stopped).
 */
export function uploadPicture(upload, file, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const { name, value } of upload.fields) form.append(name, value);
    form.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", pictureUrl(upload.url));
    request.upload.onprogress = (event) => onProgress?.(event.loaded, event.lengthComputable ? event.total : file.size);
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress?.(file.size, file.size);
        resolve();
      } else {
        reject(new ApiError({ status: request.status, code: "upload_refused", message: `the upload was refused (${request.status})` }));
      }
    };
    request.onerror = () => reject(new ApiError({ status: 0, code: "network_error", message: "the upload did not arrive" }));
    const abort = () => request.abort();
    request.onabort = () => reject(new DOMException("the upload was stopped", "AbortError"));
    signal?.addEventListener("abort", abort, { once: true });
    request.onloadend = () => signal?.removeEventListener("abort", abort);
    request.send(form);
  });
}
