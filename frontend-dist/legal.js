// The script of the static documents (reports.html): fills in the response time for reports from
// the public GET /api/chat/about (`reportResponseDays`), on the API that config.js names. Without
// an answer the page keeps its words ("a few days"). No other behaviour: the documents are plain
// HTML the operator edits.
import { API_BASE_URL } from "./api-http.js";

async function fillResponseDays() {
  const slots = document.querySelectorAll("[data-report-days]");
  if (!slots.length) return;
  try {
    const response = await fetch(`${API_BASE_URL}/api/chat/about`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const days = Number((await response.json())?.reportResponseDays);
    if (!Number.isInteger(days) || days < 1) return;
    for (const slot of slots) {
      const template = days === 1 ? slot.dataset.one : slot.dataset.many;
      slot.textContent = (template ?? "{n}").replace("{n}", String(days));
      slot.dataset.days = String(days);
    }
  } catch {
    // the words stay as written
  }
}

fillResponseDays();
