// Banning and unbanning an account after a confirmation: the admin page's user list and the
// usage dashboard's top users both offer it.

import * as api from "../api.js";
import { dialog, toast } from "../dom.js";
import { errorText, t } from "../i18n.js";

/** Asks to (un)ban the account `id` (`user` gives its email and `bannedAt`), then calls `done`. */
export async function toggleBan(id, user, done) {
  const banning = !user.bannedAt;
  const yes = await dialog({
    title: t(banning ? "banTitle" : "unbanTitle", { email: user.email }),
    deliberate: true,
    text: t(banning ? "banText" : "unbanText"),
    confirm: t(banning ? "ban" : "unban"),
    danger: banning,
  });
  if (!yes) return;
  try {
    await (banning ? api.banUser(id) : api.unbanUser(id));
    toast(t(banning ? "bannedDone" : "unbannedDone", { email: user.email }));
    done();
  } catch (error) {
    if (error.status !== 401) toast(errorText(error), "error");
  }
}
