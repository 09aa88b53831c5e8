// The TCM adviser's tongue photo (issue 27): "Show your tongue" in the TCM header opens a guide
// to taking it (daylight, nothing coloured eaten, the tongue relaxed and out, the camera close),
// asks for the health-information consent first where the server needs it, and puts the photo
// chosen (or taken: phones open the front camera) among the message's pictures, as a tongue
// photo, with a sentence in the message box to send it with. Under a sent tongue photo, what the
// vision model saw in it, in the classical categories, as an observation, not a diagnosis.
import { h, icon } from "../dom.js";
import { t } from "../i18n.js";
import { TYPES } from "./picker.js";
import { consentDialog, consentNeeded } from "./trust.js";

/** The header's entry, shown by the chat while the TCM adviser is chosen and pictures are taken. */
export function tongueEntry({ app, pictures, draft }) {
  return h("button.tongue-entry", { type: "button", id: "tongue-entry", onclick: () => openGuide({ app, pictures, draft }) },
    h("span.tongue-glyph", { "aria-hidden": "true" }, "舌"), h("span", {}, t("tongueEntry")));
}

async function openGuide({ app, pictures, draft }) {
  // Health information: the consent comes first, where the server asks for it.
  if (consentNeeded(app) && !(await consentDialog(app))) return;
  const input = h("input.tongue-input", { type: "file", accept: TYPES.join(","), capture: "user" });
  const close = () => {
    modal.close();
    modal.remove();
  };
  input.addEventListener("change", () => {
    const [file] = input.files;
    close();
    if (!file) return;
    pictures.add([file], "tongue");
    draft(t("tongueDraft"));
  });
  const modal = h("dialog.modal.tongue-guide", { "aria-labelledby": "tongue-title", dataset: { dialog: "tongue" } },
    h("div.modal-body", {},
      h("h2", { id: "tongue-title" }, t("tongueTitle")),
      h("p.modal-text", {}, t("tongueLead")),
      h("ol.tongue-tips", {}, ["tongueTip1", "tongueTip2", "tongueTip3", "tongueTip4"].map((key) => h("li", {}, t(key)))),
      h("p.tongue-note", {}, t("tongueNote")),
      h("div.modal-actions", {},
        h("button.button.ghost", { type: "button", onclick: close }, t("cancel")),
        h("label.button.primary.tongue-choose", {}, icon("image", 16), h("span", {}, t("tongueChoose")), input))));
  modal.addEventListener("cancel", () => modal.remove());
  document.body.append(modal);
  modal.showModal();
  modal.querySelector(".tongue-choose").focus?.();
}

/** What the vision model saw in a tongue photo (`observations` of a picture), as a small card. */
export function observationsCard(observations) {
  if (!observations) return "";
  const value = (group, key) => (key && key !== "unclear" ? t(`${group}.${key}`) : t("tongueUnclear"));
  if (!observations.usable) {
    const problem = observations.problem ? t(`tongueProblem.${observations.problem}`) : t("tongueUnclear");
    return h("div.tongue-seen.unusable", { role: "note" }, h("p", {}, t("tongueUnusable", { problem })));
  }
  const coating = observations.coatingColour === "none"
    ? value("tongueCoatingColour", "none")
    : [value("tongueCoatingColour", observations.coatingColour), value("tongueThickness", observations.coatingThickness), value("tongueMoisture", observations.coatingMoisture)].join(" · ");
  const rows = [
    ["bodyColour", value("tongueBody", observations.bodyColour)],
    ["coating", coating],
    ["shape", value("tongueShape", observations.shape)],
    ["toothMarks", value("tongueMarks", observations.toothMarks)],
    ["cracks", value("tongueCracks", observations.cracks)],
  ];
  return h("figure.tongue-seen", {},
    h("figcaption", {}, t("tongueSeen")),
    h("dl", {}, rows.flatMap(([field, text]) => [h("dt", {}, t(`tongueField.${field}`)), h("dd", {}, text)])),
    h("p.tongue-seen-note", {}, t("tongueSeenNote")));
}
