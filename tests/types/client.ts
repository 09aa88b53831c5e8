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
  return `${role} ${next.reply} ${data.users.length} ${detail?.messages.length ?? 0}`;
}
