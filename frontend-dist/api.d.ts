// Types for api.js, for people who bring their own frontend (e.g. the seed's Next.js app).
// Every request and response type comes from openapi.d.ts, generated from openapi.json, which
// is generated from the Rust handlers: `make types` regenerates it, and `make test` fails when
// it is stale or when these declarations stop matching it.
import type { components, operations, paths } from "./openapi";

type Schemas = components["schemas"];
type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;
/** The JSON body of a route's successful answer (200 or 201), and of its request. */
type JsonOf<T> = T extends { content: { "application/json": infer Body } } ? Body : never;
type Answer<Op> = Op extends { responses: infer R } ? (R extends { 200: infer A } ? JsonOf<A> : R extends { 201: infer A } ? JsonOf<A> : never) : never;
type RequestOf<Op> = Op extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type User = Schemas["UserView"];
export type AuthResponse = Schemas["AuthResponse"];
export type SessionResponse = Schemas["SessionResponse"];
export type Credentials = Schemas["Credentials"];
export type NewAccount = Schemas["NewAccount"];
export type ChatRequest = Schemas["ChatRequest"];
export type ChatResponse = Schemas["ChatResponse"];
export type StreamStart = Schemas["StreamStart"];
export type StreamDone = Schemas["StreamDone"];
export type FinishReason = Schemas["FinishReason"];
export type StreamTitle = Schemas["StreamTitle"];
export type MessageView = Schemas["MessageView"];
export type RegenerateRequest = Schemas["RegenerateRequest"];
export type EditRequest = Schemas["EditRequest"];
export type StopResponse = Schemas["StopResponse"];
export type ConversationList = Schemas["ConversationList"];
export type ConversationDetail = Schemas["ConversationDetail"];
export type ConversationResponse = Schemas["ConversationResponse"];
export type UserPage = Schemas["UserPage"];
export type UserResponse = Schemas["UserResponse"];
export type AuditLogPage = Schemas["AuditLogPage"];
export type ExportDocument = Schemas["ExportDocument"];
export type ErrorBody = Schemas["ErrorBody"];

// The account routes (crates/core/src/account/).
export type EmailVerification = Schemas["EmailVerification"];
/** `POST /api/auth/register` body: `NewAccount`, whose `locale` ("zh" or "en") is the language of the account's mail. */
export type Registration = NewAccount;
/** `GET /api/account`: `locale` "zh" or "en"; `emailVerification` this server's setting ("required": chat turns answer 403 email_unverified). */
export type AccountView = Schemas["AccountView"];
export type AccountChanges = Schemas["ProfileChange"];
/** `202` of the routes that send a mail. */
export type Accepted = Schemas["Accepted"];
export type PasswordReset = Schemas["PasswordReset"];
export type PasswordChange = Schemas["PasswordChange"];
/** Sessions ended. */
export type Revoked = Schemas["Revoked"];
/** One signed-in device: `current` is the session of the request. */
export type SessionView = Schemas["SessionView"];
export type SessionList = Schemas["SessionList"];
export type Deleted = Schemas["Deleted"];
/** The user of AuthResponse/SessionResponse, with the state of the address (`emailVerified`). */
export type AccountUser = User;

export declare const API_BASE_URL: string;
export declare const TOKEN_KEY: "auth_token";
export declare function getToken(): string | null;
export declare function setToken(token: string | null): void;

/** A failed call: the API's `{"error":{"code","message"}}` plus the status (0: no answer). */
export declare class ApiError extends Error {
  constructor(init?: {
    status?: number;
    code?: string;
    message?: string;
    body?: ErrorBody | null;
    retryAfter?: number | null;
    conversationId?: string | null;
  });
  readonly status: number;
  readonly code: string;
  readonly body: ErrorBody | null;
  readonly conversationId: string | null;
  /** Seconds, from `Retry-After` (429). */
  readonly retryAfter: number | null;
}

/** Calls `listener` whenever the API rejects the stored token (401); returns an unsubscribe. */
export declare function onUnauthorized(listener: (error: ApiError) => void): () => void;

/** The seed's `apiRequest`: JSON in, JSON out; rejects with `ApiError`. */
export declare function apiRequest<T>(endpoint: string, options?: RequestInit): Promise<T>;

export declare function sendChatMessage(data: ChatRequest): Promise<ChatResponse>;
export declare function readEventStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: { event: string; data: string }) => void,
): Promise<void>;
/** What a streamed turn tells as it goes; `signal` stops listening (not the reply: `stopReply`). */
export interface StreamHandlers {
  onStart?(event: StreamStart): void;
  onDelta?(piece: string, textSoFar: string): void;
  onDone?(event: StreamDone): void;
  /** After `done` of a new conversation's first reply, possibly after the promise resolved. */
  onTitle?(event: StreamTitle): void;
  onError?(error: ApiError): void;
  signal?: AbortSignal;
}
/** A streamed reply, resolved at `done` (complete, `finishReason: "stopped"`, or `"blocked"` by moderation). */
export type StreamedReply = StreamDone & { content: string };

/** Streams a reply; resolves once it is saved, rejects with `ApiError` otherwise. */
export declare function streamChatMessage(data: ChatRequest, handlers?: StreamHandlers, signal?: AbortSignal): Promise<StreamedReply>;
/** Another reply beside the reply `messageId` (or to the user message `messageId`), streamed. */
export declare function regenerateReply(
  conversationId: string,
  messageId: string,
  data?: Omit<RegenerateRequest, "stream">,
  handlers?: StreamHandlers,
  signal?: AbortSignal,
): Promise<StreamedReply>;
/** A new version of the user message `messageId` with new text, and its reply, streamed. */
export declare function editMessage(
  conversationId: string,
  messageId: string,
  data: Omit<EditRequest, "stream">,
  handlers?: StreamHandlers,
  signal?: AbortSignal,
): Promise<StreamedReply>;
/** Stops the reply streaming in a conversation (its stream then ends with a stopped `done`). */
export declare function stopReply(conversationId: string): Promise<StopResponse>;
/** Shows the branch through `messageId` (one of a message's `versionIds`). */
export declare function switchVersion(conversationId: string, messageId: string): Promise<ConversationDetail>;
export declare function listConversations(query?: Query<"list">): Promise<ConversationList>;
export declare function getConversation(id: string, query?: Query<"get">): Promise<ConversationDetail>;
export declare function renameConversation(id: string, title: string): Promise<ConversationResponse>;
export declare function deleteConversation(id: string): Promise<null>;

export declare function login(credentials: Credentials): Promise<AuthResponse>;
export declare function register(data: Registration): Promise<AuthResponse>;
export declare function session(): Promise<SessionResponse>;
export declare function logout(options?: { all?: boolean }): Promise<Schemas["LogoutResponse"]>;

/** Mails a reset link (the same answer whether or not the address has an account). */
export declare function forgotPassword(email: string): Promise<Accepted>;
/** A new password from a reset link's token: logged in, every other session ended. */
export declare function resetPassword(data: PasswordReset): Promise<AuthResponse>;
export declare function verifyEmail(token: string): Promise<AccountView>;
export declare function getAccount(): Promise<AccountView>;
export declare function updateAccount(changes: AccountChanges): Promise<AccountView>;
/** Mails a new verification link (409 already_verified). */
export declare function sendVerification(): Promise<Accepted>;
/** Ends the other sessions; this one stays. */
export declare function changePassword(passwords: PasswordChange): Promise<Schemas["PasswordChanged"]>;
export declare function listSessions(): Promise<SessionList>;
export declare function revokeSession(id: string): Promise<Revoked>;
export declare function revokeOtherSessions(): Promise<Revoked>;
/** The account's own data as `{blob, filename}`, not saved. */
export declare function fetchAccountExport(query?: Query<"export_own_data">): Promise<{ blob: Blob; filename: string }>;
/** The account's own data, handed to the browser to save. */
export declare function downloadAccountExport(query?: Query<"export_own_data">): Promise<{ blob: Blob; filename: string }>;
export declare function deleteAccount(data: Schemas["DeleteAccount"]): Promise<Deleted>;

export declare function exportData(query?: { since?: string; until?: string }): Promise<ExportDocument>;
export declare function dispositionFilename(header: string | null): string | null;
/** The export as `{blob, filename}`, not saved. */
export declare function fetchExport(query?: Query<"export">): Promise<{ blob: Blob; filename: string }>;
/** The export, handed to the browser to save. */
export declare function downloadExport(query?: Query<"export">): Promise<{ blob: Blob; filename: string }>;
export declare function listUsers(query?: Query<"list_users">): Promise<UserPage>;
export declare function banUser(id: string): Promise<UserResponse>;
export declare function unbanUser(id: string): Promise<UserResponse>;
export declare function liftRestriction(id: string): Promise<UserResponse>;
export declare function listAuditLogs(query?: Query<"list_audit_logs">): Promise<AuditLogPage>;

// The quota line, feedback on replies, search (crates/core/src/chat/, crates/core/src/usage/).
export type QuotaView = Schemas["QuotaView"];
export type FeedbackRequest = Schemas["FeedbackRequest"];
export type FeedbackView = Schemas["FeedbackView"];
export type FeedbackResponse = Schemas["FeedbackResponse"];
export type SearchResults = Schemas["SearchResults"];
export type SearchHit = Schemas["SearchHit"];
/** `GET /api/admin/usage`: the periods, per assistant, feedback, top users and totals. */
export type UsageReport = Schemas["UsageReport"];

/** The caller's quota (`messages` null: none). */
export declare function getQuota(): Promise<QuotaView>;
export type AboutView = Schemas["AboutView"];
export declare function getAbout(): Promise<AboutView>;
export type Season = Schemas["Season"];
export declare function getSeason(): Promise<Season>;
/** Thumbs up or down on a reply, with an optional comment; sent again it changes. */
export declare function setFeedback(conversationId: string, messageId: string, feedback: FeedbackRequest): Promise<FeedbackResponse>;
/** Withdraws the feedback on a reply. */
export declare function deleteFeedback(conversationId: string, messageId: string): Promise<null>;
/** The caller's conversations that contain `q`, newest first. */
export declare function searchConversations(
  q: string,
  options?: Omit<Query<"search">, "q"> & { signal?: AbortSignal },
): Promise<SearchResults>;
export declare function getUsage(query?: Query<"usage">): Promise<UsageReport>;

// Reports and consent (issue 24; docs/reports-consent-api.md): the terms an account accepts, its
// consent to the processing of health information, reporting a reply, the account's own reports,
// and the administrators' queue. Named after their routes.
type ReportRoute = paths["/api/chat/conversations/{id}/messages/{messageId}/report"]["post"];
type DecisionRoute = paths["/api/admin/reports/{id}/decision"]["post"];
type ConsentRoute = paths["/api/account/health-consent"];
/** `POST …/report` body: `reason` and an optional `comment` (at most 1000 characters). */
export type ReportRequest = RequestOf<ReportRoute>;
/** `201 {report}`: the report as its reporter sees it. */
export type ReportResponse = Answer<ReportRoute>;
export type OwnReport = ReportResponse["report"];
/** `GET /api/account/reports`: a page of the account's reports, newest first. */
export type OwnReportList = Answer<paths["/api/account/reports"]["get"]>;
export type OwnReportQuery = QueryOf<paths["/api/account/reports"]["get"]>;
/** `GET /api/admin/reports`: a page of the queue, with how many are open and overdue. */
export type AdminReportPage = Answer<paths["/api/admin/reports"]["get"]>;
export type AdminReport = AdminReportPage["reports"][number];
export type AdminReportQuery = QueryOf<paths["/api/admin/reports"]["get"]>;
/** `POST /api/admin/reports/{id}/decision` body. */
export type ReportDecision = RequestOf<DecisionRoute>;
export type DecisionResponse = Answer<DecisionRoute>;
/** `POST /api/account/terms`: `{account}`. */
export type TermsAccepted = Answer<paths["/api/account/terms"]["post"]>;
/** `POST /api/account/health-consent`: `{account}`. */
export type ConsentGiven = Answer<ConsentRoute["post"]>;
/** `DELETE /api/account/health-consent`: `{account, deletedConversations, deletedAssessments}`. */
export type ConsentWithdrawn = Answer<ConsentRoute["delete"]>;

/** Accepts the terms of service and privacy policy of `version` (409 terms_outdated / no_terms). */
export declare function acceptTerms(version: string): Promise<TermsAccepted>;
/** Consents to the processing of health information (again: keeps the first time). */
export declare function giveHealthConsent(): Promise<ConsentGiven>;
/**
 * Withdraws that consent; `deleteConversations` also deletes every TCM conversation of the
 * account, `deleteAssessments` every constitution self-assessment.
 */
export declare function withdrawHealthConsent(options?: { deleteConversations?: boolean; deleteAssessments?: boolean }): Promise<ConsentWithdrawn>;
/** Reports a reply the model wrote here (409 already_reported, 422 not_a_reply / comment_too_long). */
export declare function reportReply(conversationId: string, messageId: string, report: ReportRequest): Promise<ReportResponse>;
/** The account's own reports and what became of them. */
export declare function listMyReports(query?: OwnReportQuery): Promise<OwnReportList>;
/** The administrators' queue (`status` open, actioned or dismissed). */
export declare function listReports(query?: AdminReportQuery): Promise<AdminReportPage>;
/** Decides an open report (409 already_decided; 422 invalid_decision, cannot_ban_self). */
export declare function decideReport(id: string, decision: ReportDecision): Promise<DecisionResponse>;

// The oracle's readings (issue 25): casting, the journal. Named after their routes.
type ReadingsRoute = paths["/api/oracle/readings"];
type ReadingRoute = paths["/api/oracle/readings/{id}"];
/** `POST /api/oracle/readings` body: `{question, method, lines?}` (`lines` with "manual" only). */
export type CastRequest = RequestOf<ReadingsRoute["post"]>;
export type CastMethod = Schemas["Method"];
/** `{reading}` (201 for a cast, 200 for `getReading`). */
export type ReadingResponse = Answer<ReadingsRoute["post"]>;
export type Reading = ReadingResponse["reading"];
export type Hexagram = Schemas["HexagramView"];
export type GoverningText = Schemas["GoverningText"];
/** `GET /api/oracle/readings`: a page of the journal, newest first. */
export type ReadingPage = Answer<ReadingsRoute["get"]>;
export type ReadingQuery = QueryOf<ReadingsRoute["get"]>;

/** Casts a reading (coins, yarrow) or records one cast by hand (manual, with six lines 6–9 bottom first). */
export declare function castReading(request: CastRequest): Promise<ReadingResponse>;
/** The journal, newest first; `q` searches the question and the hexagrams' names. */
export declare function listReadings(query?: ReadingQuery): Promise<ReadingPage>;
export declare function getReading(id: string): Promise<ReadingResponse>;
/** Deletes a reading from the journal (its conversation stays). */
export declare function deleteReading(id: string): Promise<null>;

// The constitution self-assessment (issue 25; api-constitution.js). Named after their routes.
type QuestionnaireRoute = paths["/api/constitution/questionnaire"];
type AssessmentsRoute = paths["/api/constitution/assessments"];
type AssessmentRoute = paths["/api/constitution/assessments/{id}"];
/** The questionnaire: the scale, the past-year instruction, the five answers, the nine types, the 61 questions. */
export type Questionnaire = Answer<QuestionnaireRoute["get"]>;
export type Question = Questionnaire["items"][number];
export type ConstitutionType = Questionnaire["types"][number];
/** `POST /api/constitution/assessments` body: `{sex, answers}` (the sixty questions that apply to `sex`). */
export type Submission = RequestOf<AssessmentsRoute["post"]>;
/** `{assessment}` (201 for a submission, 200 for `getAssessment`). */
export type AssessmentResponse = Answer<AssessmentsRoute["post"]>;
export type Assessment = AssessmentResponse["assessment"];
export type TypeScore = Assessment["scores"][number];
/** `GET /api/constitution/assessments`: a page of the history, newest first. */
export type AssessmentPage = Answer<AssessmentsRoute["get"]>;
export type AssessmentQuery = QueryOf<AssessmentsRoute["get"]>;

/** The questionnaire (public). */
export declare function getQuestionnaire(): Promise<Questionnaire>;
/** Sends the answers (422 incomplete_answers, unknown_item, invalid_answer, item_not_for_sex; 403 consent_required; 429). */
export declare function submitAssessment(submission: Submission): Promise<AssessmentResponse>;
/** The account's results, newest first. */
export declare function listAssessments(query?: AssessmentQuery): Promise<AssessmentPage>;
export declare function getAssessment(id: string): Promise<AssessmentResponse>;
/** Deletes a result (the TCM adviser no longer sees it). */
export declare function deleteAssessment(id: string): Promise<null>;
