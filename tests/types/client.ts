// Compiled by `npm run typecheck` (never run): uses the client the way the seed's app does, so
// a change to the API that breaks such code breaks this build.
import * as api from "../../frontend-dist/api.js";

export async function seedUsage(): Promise<string> {
  const { user, token }: { user: api.User; token: string } = await api.login({ email: "a@example.com", password: "secret pw" });
  api.setToken(token);
  const role: "USER" | "ADMIN" = user.role;
  const reply = await api.sendChatMessage({ type: "oracle", messages: [{ role: "user", content: "hi" }], locale: "zh-CN" });
  const next = await api.sendChatMessage({
    type: "tcm",
    messages: [{ role: "user", content: "again" }],
    conversationId: reply.conversationId,
    systemHint: "brief",
  });
  const { data } = await api.exportData();
  const page = await api.listConversations({ limit: 10 });
  const first = page.conversations[0];
  const detail = first ? await api.getConversation(first.id, { limit: 5 }) : null;
  await api.streamChatMessage({ type: "oracle", messages: [{ role: "user", content: "stream" }] }, {
    onDelta: (text: string) => text.length,
    onDone: (done: api.StreamDone) => done.messageId,
  });
  const versions = await conversationControls(reply.conversationId);
  return `${role} ${next.reply} ${next.userMessageId} ${data.users.length} ${detail?.messages.length ?? 0} ${versions}`;
}

/** Stop, regenerate, edit and switch, as the site's chat view uses them. */
export async function conversationControls(conversationId: string): Promise<string> {
  const controller = new AbortController();
  let title: string | null = null;
  const handlers: api.StreamHandlers = {
    onStart: (start: api.StreamStart) => start.userMessageId,
    onTitle: (event: api.StreamTitle) => (title = event.title),
    signal: controller.signal,
  };
  const first = await api.streamChatMessage({ type: "oracle", messages: [{ role: "user", content: "long" }], conversationId }, handlers);
  const stopped: { requested: number; ended: number } = await api.stopReply(conversationId);
  const reason: "completed" | "stopped" | "blocked" = first.finishReason;
  const again = await api.regenerateReply(conversationId, first.messageId, { locale: "en", systemHint: "brief" }, handlers);
  const detail = await api.getConversation(conversationId);
  const user = detail.messages.find((m: api.MessageView) => m.role === "user");
  const edited = user ? await api.editMessage(conversationId, user.id, { content: "shorter", locale: "zh-CN" }, {}, controller.signal) : again;
  const last = detail.messages[detail.messages.length - 1];
  const previous = last && last.version > 1 ? last.versionIds[last.version - 2] : undefined;
  const shown: api.ConversationDetail = previous ? await api.switchVersion(conversationId, previous) : detail;
  const marks = shown.messages.map((m) => `${m.parentId ?? "-"}:${m.version}/${m.versions}${m.stopped ? "!" : ""}`);
  return `${reason} ${stopped.requested}/${stopped.ended} ${again.content} ${edited.messageId} ${title ?? ""} ${marks.join(",")}`;
}

/** The account page, the mail links and the verification notice, as the site uses them. */
export async function accountUsage(resetToken: string, verifyToken: string): Promise<string> {
  const { accepted }: api.Accepted = await api.forgotPassword("a@example.com");
  const { user, token }: api.AuthResponse = await api.resetPassword({ token: resetToken, password: "a new password" });
  api.setToken(token);
  const verified: api.AccountView = await api.verifyEmail(verifyToken);
  const account = await api.getAccount();
  const mode: "off" | "optional" | "required" = account.emailVerification;
  const changed = await api.updateAccount({ locale: account.locale === "zh" ? "en" : "zh" });
  if (!account.emailVerified && account.mailEnabled) await api.sendVerification();
  const { revoked } = await api.changePassword({ currentPassword: "a new password", newPassword: "another password" });
  const { sessions } = await api.listSessions();
  const other = sessions.find((s: api.SessionView) => !s.current);
  if (other) await api.revokeSession(other.id);
  const others: number = (await api.revokeOtherSessions()).revoked;
  const { filename } = await api.downloadAccountExport({ format: "ndjson" });
  const { blob } = await api.fetchAccountExport();
  await api.register({ email: "b@example.com", password: "secret pw 2", locale: "zh" });
  const { deleted }: api.Deleted = await api.deleteAccount({ password: "another password" });
  const seen: api.AccountUser = user;
  const verifiedAlready: boolean = seen.emailVerified;
  return `${accepted} ${verified.emailVerifiedAt ?? "-"} ${mode} ${changed.locale} ${revoked} ${others} ${filename} ${blob.size} ${deleted} ${verifiedAlready}`;
}

/** Terms, consent and reports (issue 24), as the site uses them. */
export async function trustUsage(conversationId: string, messageId: string): Promise<string> {
  const about: api.AboutView = await api.getAbout();
  const season: api.Season = await api.getSeason();
  const term: string = `${season.current.name} ${season.current.english} ${season.current.startsAt} ${season.next.longitude}`;
  const version: string | null = about.termsVersion ?? null;
  const consent: "required" | "off" = about.healthConsent;
  const days: number = about.reportResponseDays;
  if (version) await api.register({ email: "c@example.com", password: "secret pw 3", locale: "en", acceptTerms: version });
  const accepted = version ? (await api.acceptTerms(version)).account.acceptedTerms : null;
  const given: string | null = (await api.giveHealthConsent()).account.healthConsentAt ?? null;
  const withdrawn = await api.withdrawHealthConsent({ deleteConversations: true });
  const deleted: number = withdrawn.deletedConversations;
  const restricted: string | null = withdrawn.account.restrictedUntil ?? null;
  const { report } = await api.reportReply(conversationId, messageId, { reason: "wrong", comment: "not so" });
  const status: "open" | "actioned" | "dismissed" = report.status;
  const mine: api.OwnReport[] = (await api.listMyReports({ page: 1, pageSize: 20 })).reports;
  const detail = await api.getConversation(conversationId);
  const flagged = detail.messages.filter((m: api.MessageView) => m.reported || m.withheld === "hidden").length;
  const queue = await api.listReports({ status: "open", page: 1, pageSize: 20 });
  const first: api.AdminReport | undefined = queue.reports[0];
  const overdue: boolean = first?.overdue ?? false;
  const decided = first
    ? await api.decideReport(first.id, { outcome: "actioned", hideReply: true, userAction: "restrict", restrictDays: 3, note: "see the terms" })
    : null;
  const action: "none" | "warn" | "restrict" | "ban" | undefined = decided?.report.userAction;
  return `${version} ${consent} ${days} ${accepted} ${given} ${deleted} ${restricted} ${status} ${mine.length} ${flagged} ${queue.open}/${queue.overdue} ${overdue} ${action} ${term}`;
}

/** Casting a reading, asking the oracle about it, and the journal, as the site's oracle views use them. */
export async function oracleUsage(): Promise<string> {
  const { reading }: api.ReadingResponse = await api.castReading({ question: "Should I move?", method: "coins" });
  const manual = await api.castReading({ question: "And now?", method: "manual", lines: [7, 9, 7, 8, 6, 8] });
  const changing: number[] = manual.reading.changing;
  const relating: api.Hexagram | null | undefined = manual.reading.relating;
  const principal: api.GoverningText | undefined = reading.governing.find((text) => text.principal);
  const reply = await api.sendChatMessage({ type: "oracle", messages: [{ role: "user", content: reading.question }], readingId: reading.id });
  await api.streamChatMessage({ type: "oracle", messages: [{ role: "user", content: "stream" }], readingId: manual.reading.id }, {});
  const page: api.ReadingPage = await api.listReadings({ q: "泰", page: 1, pageSize: 10 });
  const again = (await api.getReading(reading.id)).reading;
  await api.deleteReading(again.id);
  const method: api.CastMethod = again.method;
  return `${reading.summary} ${changing.join(",")} ${relating?.name ?? ""} ${principal?.text ?? ""} ${reply.reply} ${page.total} ${method} ${again.conversationId ?? ""}`;
}
