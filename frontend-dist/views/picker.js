// Pictures for the next message (issue 27): picked with the composer's button, pasted into the
// message box, or dropped on the composer. Each is checked here first (its type, its size, how
// many), shown as a thumbnail at once, and uploaded straight to the bucket with the form the API
// issues, a bar showing how far it got. A picture removed before sending is deleted (the
// object too). The message goes out once every picture is uploaded; its ids go with it.
//
// The pictures waiting live in `store.pictures`, so a rebuilt view (a language switch) keeps
// them, uploads under way included.
import * as api from "../api.js";
import { h, icon, toast } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { store } from "./chat-store.js";

/** The picture types the server takes (its `about.pictures.types`). */
export const TYPES = ["image/jpeg", "image/png", "image/webp"];

let keys = 0;

/**
 * The composer's pictures. `changed()` is called whenever what waits changes (the composer then
 * enables or disables its send button).
 */
export function picker({ changed }) {
  const els = {};

  /** Where the server takes pictures (GET /api/chat/about): the limits; null: not here. */
  const offer = () => store.about?.pictures ?? null;

  function render() {
    els.input = h("input.picture-input", { type: "file", accept: TYPES.join(","), multiple: true, hidden: true, tabindex: -1 });
    els.input.addEventListener("change", () => {
      add([...els.input.files]);
      els.input.value = "";
    });
    els.button = h("button.attach-button", {
      type: "button", title: t("attachPictureTitle"), "aria-label": t("attachPicture"), onclick: () => els.input.click(),
    }, icon("image", 17));
    els.tray = h("ul.picture-tray", { "aria-label": t("picturesOf", { n: store.pictures.length }) });
    paint();
    return { button: h("span.attach", {}, els.button, els.input), tray: els.tray };
  }

  /** Pasting or dropping pictures on `box` (the message box) and `area` (the composer) adds them. */
  function listen(box, area) {
    box.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])].filter((file) => file.type.startsWith("image/"));
      if (!files.length || !offer()) return;
      event.preventDefault(); // the picture, not its name, goes in
      add(files);
    });
    const carries = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
    area.addEventListener("dragover", (event) => {
      if (!carries(event) || !offer()) return;
      event.preventDefault();
      area.classList.add("dropping");
    });
    area.addEventListener("dragleave", (event) => {
      if (!area.contains(event.relatedTarget)) area.classList.remove("dropping");
    });
    area.addEventListener("drop", (event) => {
      area.classList.remove("dropping");
      if (!carries(event) || !offer()) return;
      event.preventDefault();
      add([...event.dataTransfer.files]);
    });
  }

  /** Checks `files` and starts uploading those that pass; says why the others do not. `purpose`: "tongue" for the TCM adviser's tongue photo. */
  function add(files, purpose = null) {
    const limits = offer();
    if (!limits) return;
    for (const file of files) {
      if (!TYPES.includes(file.type)) {
        toast(t("pictureTypeRefused"), "error");
        continue;
      }
      if (file.size > limits.maxBytes) {
        toast(t("pictureTooLarge", { mb: Math.round(limits.maxBytes / 100_000) / 10 }), "error");
        continue;
      }
      if (store.pictures.length >= limits.maxPerMessage) {
        toast(t("tooManyPictures", { n: limits.maxPerMessage }), "error");
        break;
      }
      const picture = { key: ++keys, file, purpose, preview: URL.createObjectURL(file), id: null, state: "uploading", sent: 0, error: null, controller: new AbortController() };
      store.pictures.push(picture);
      upload(picture);
    }
    paint();
    changed();
  }

  async function upload(picture) {
    const generation = store.generation;
    try {
      const { attachment, upload: form } = await api.requestUpload({ contentType: picture.file.type, size: picture.file.size, purpose: picture.purpose });
      picture.id = attachment.id;
      if (picture.state === "removed") {
        api.deleteAttachment(attachment.id).catch(() => {});
        return;
      }
      await api.uploadPicture(form, picture.file, {
        signal: picture.controller.signal,
        onProgress: (sent) => {
          picture.sent = sent;
          paintOne(picture);
        },
      });
      if (generation !== store.generation || picture.state === "removed") return;
      picture.state = "ready";
    } catch (error) {
      if (picture.state === "removed" || generation !== store.generation) return;
      picture.state = "error";
      picture.error = errorText(error);
    }
    paintOne(picture);
    changed();
  }

  /** Takes a picture off: stops its upload, and deletes it if it got that far. */
  function remove(picture) {
    picture.state = "removed";
    picture.controller.abort();
    if (picture.id) api.deleteAttachment(picture.id).catch(() => {}); // unsent: deleted with its object
    URL.revokeObjectURL(picture.preview);
    store.pictures = store.pictures.filter((other) => other !== picture);
    paint();
    changed();
    els.button.focus();
  }

  function paint() {
    if (!els.tray) return;
    const limits = offer();
    els.button.hidden = !limits;
    els.tray.hidden = !store.pictures.length;
    els.tray.setAttribute("aria-label", t("picturesOf", { n: store.pictures.length }));
    els.tray.replaceChildren(...store.pictures.map((picture, index) => {
      const item = h("li.picture-chip", { dataset: { key: picture.key } },
        h("img", { src: picture.preview, alt: t("pictureAlt", { n: index + 1 }) }),
        h("div.picture-progress", { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, h("span.bar")),
        h("span.picture-state", { "aria-live": "polite" }),
        h("button.picture-remove", { type: "button", title: t("removePicture"), "aria-label": t("removePicture"), onclick: () => remove(picture) }, icon("close", 13)));
      paintOne(picture, item);
      return item;
    }));
  }

  function paintOne(picture, item = els.tray?.querySelector(`[data-key="${picture.key}"]`)) {
    if (!item) return;
    const percent = picture.state === "ready" ? 100 : Math.min(99, Math.floor((picture.sent / Math.max(1, picture.file.size)) * 100));
    item.dataset.state = picture.state;
    const bar = item.querySelector(".picture-progress");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.hidden = picture.state !== "uploading";
    bar.querySelector(".bar").style.width = `${percent}%`;
    const state = item.querySelector(".picture-state");
    state.textContent = picture.state === "uploading" ? t("pictureUploading", { percent }) : picture.state === "error" ? picture.error || t("pictureFailed") : "";
    state.classList.toggle("error", picture.state === "error");
    item.title = picture.state === "ready" ? t("pictureUploaded") : state.textContent;
  }

  return {
    render,
    listen,
    paint,
    add,
    /** Whether pictures are taken here (GET /api/chat/about). */
    offered: () => Boolean(offer()),
    /** Whether the message may go: no picture still uploading or failed. */
    ready: () => store.pictures.every((picture) => picture.state === "ready"),
    /** The pictures to send with the message (then gone from the tray): `{id, url, contentType, purpose}`. */
    take() {
      const taken = store.pictures.map((picture) => ({ id: picture.id, url: picture.preview, contentType: picture.file.type, purpose: picture.purpose ?? "chat" }));
      store.pictures = [];
      paint();
      return taken;
    },
  };
}
