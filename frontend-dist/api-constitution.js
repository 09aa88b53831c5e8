// The constitution self-assessment's calls (issue 25), re-exported by api.js: the questionnaire
// (public), sending the answers, and the account's results (list, one, delete).
import { apiRequest, json, path, query } from "./api-http.js";

/**
 * The questionnaire (public): `{scale, recall: {zh, en}, options: [{value, zh, en}], types:
 * [{key, zh, en, about: {zh, en}}], items: [{id, zh, en, sex: null|"female"|"male", counts}]}`.
 */
export function getQuestionnaire() {
  return apiRequest("/api/constitution/questionnaire");
}

/**
 * Sends the answers: `sex` "female"|"male" and `answers` {itemId: 1–5} for the sixty questions
 * that apply: `{assessment}` (201). 422 incomplete_answers, unknown_item, invalid_answer,
 * item_not_for_sex; 403 consent_required; 429 rate_limited.
 */
export function submitAssessment({ sex, answers }) {
  return apiRequest("/api/constitution/assessments", json("POST", { sex, answers }));
}

/** The account's results, newest first: `{assessments, total, page, pageSize}`. */
export function listAssessments({ page, pageSize } = {}) {
  return apiRequest(`/api/constitution/assessments${query({ page, pageSize })}`);
}

/** One result: `{assessment}`. */
export function getAssessment(id) {
  return apiRequest(`/api/constitution/assessments/${path(id)}`);
}

/** Deletes a result (204); 404 not_found when it is not the caller's. */
export function deleteAssessment(id) {
  return apiRequest(`/api/constitution/assessments/${path(id)}`, { method: "DELETE" });
}
