// Every piece of UI text, in Chinese and English. The language is remembered in localStorage.

const STRINGS = {
  zh: {
    brand: "易医问答", tagline: "易经指引 · 中医养生",
    login: "登录", register: "注册", logout: "退出登录", email: "邮箱", password: "密码",
    noAccount: "还没有账号？", haveAccount: "已有账号？", passwordHint: "至少 8 个字符",
    oracle: "易者", oracleDesc: "《易经》占卜与指引", tcm: "中医顾问", tcmDesc: "中医养生建议（非医疗诊断）",
    newChat: "新对话", conversations: "对话记录", noConversations: "还没有对话",
    rename: "重命名", delete: "删除", confirmDelete: "确定删除这个对话吗？", renamePrompt: "新的标题",
    placeholderOracle: "写下你心中的问题……", placeholderTcm: "描述你想调理的方面……",
    send: "发送", stop: "停止", hint: "回答偏好（可选）", hintPlaceholder: "例如：请简短一些",
    thinking: "正在思考……", stopped: "已停止显示（回答仍会保存）",
    welcomeOracle: "静心，提出你的问题。易者将以《易经》为镜，与你一同观照。",
    welcomeTcm: "你好！我可以分享中医养生知识。我不做诊断；如有不适，请及时就医。",
    admin: "管理", chat: "对话", users: "用户", auditLog: "审计日志", export: "导出数据",
    search: "搜索邮箱", role: "角色", status: "状态", created: "创建时间", actions: "操作",
    ban: "封禁", unban: "解封", banned: "已封禁", active: "正常", action: "动作", actor: "操作者",
    message: "内容", ip: "IP", time: "时间", allActions: "全部动作", filter: "筛选",
    download: "下载", since: "起始", until: "截止", previous: "上一页", next: "下一页", page: "第 {n} 页",
    language: "English", sessionEnded: "登录已失效，请重新登录。",
    errors: {
      invalid_credentials: "邮箱或密码不正确。", email_taken: "该邮箱已注册。",
      password_too_short: "密码至少需要 8 个字符。", password_too_long: "密码过长（最多 72 字节）。",
      invalid_email: "请输入有效的邮箱地址。", account_banned: "该账号已被停用。",
      rate_limited: "请求过于频繁，请 {s} 秒后再试。", too_many_streams: "同时进行的回答过多，请稍候。",
      llm_not_configured: "助手暂未配置，请联系管理员。", upstream_error: "助手暂时无法回答，请重试。",
      upstream_timeout: "助手响应超时，请重试。", upstream_stream_broken: "回答中断了，请重试。",
      database_unavailable: "服务暂时不可用，请稍后重试。", network: "网络错误，请检查连接。",
      message_too_long: "消息过长（最多 4000 字）。",
    },
  },
  en: {
    brand: "Oracle & TCM", tagline: "I Ching guidance · TCM wellness",
    login: "Log in", register: "Create account", logout: "Log out", email: "Email", password: "Password",
    noAccount: "No account yet?", haveAccount: "Already registered?", passwordHint: "At least 8 characters",
    oracle: "The Oracle", oracleDesc: "I Ching divination and guidance", tcm: "TCM adviser", tcmDesc: "Traditional Chinese Medicine wellness (not a diagnosis)",
    newChat: "New chat", conversations: "Conversations", noConversations: "No conversations yet",
    rename: "Rename", delete: "Delete", confirmDelete: "Delete this conversation?", renamePrompt: "New title",
    placeholderOracle: "Write the question on your mind…", placeholderTcm: "Describe what you would like to balance…",
    send: "Send", stop: "Stop", hint: "Reply preference (optional)", hintPlaceholder: "e.g. keep it short",
    thinking: "Thinking…", stopped: "Stopped (the reply is still saved)",
    welcomeOracle: "Be still and ask your question. The Oracle holds up the Book of Changes as a mirror.",
    welcomeTcm: "Hello! I share Traditional Chinese Medicine wellness ideas. I do not diagnose; see a doctor if you feel unwell.",
    admin: "Admin", chat: "Chat", users: "Users", auditLog: "Audit log", export: "Export",
    search: "Search email", role: "Role", status: "Status", created: "Created", actions: "Actions",
    ban: "Ban", unban: "Unban", banned: "Banned", active: "Active", action: "Action", actor: "Actor",
    message: "Message", ip: "IP", time: "Time", allActions: "All actions", filter: "Filter",
    download: "Download", since: "Since", until: "Until", previous: "Previous", next: "Next", page: "Page {n}",
    language: "中文", sessionEnded: "Your session has ended. Please log in again.",
    errors: {
      invalid_credentials: "The email or password is incorrect.", email_taken: "An account with this email already exists.",
      password_too_short: "The password needs at least 8 characters.", password_too_long: "The password is too long (72 bytes at most).",
      invalid_email: "Please enter a valid email address.", account_banned: "This account has been suspended.",
      rate_limited: "Too many attempts. Try again in {s} s.", too_many_streams: "Too many replies at once; please wait.",
      llm_not_configured: "The assistant is not configured yet. Please contact the administrator.",
      upstream_error: "The assistant cannot answer right now. Please retry.", upstream_timeout: "The assistant took too long. Please retry.",
      upstream_stream_broken: "The reply broke off. Please retry.", database_unavailable: "The service is briefly unavailable. Please retry.",
      network: "Network error. Check your connection.", message_too_long: "The message is too long (4,000 characters at most).",
    },
  },
};

const initial = localStorage.getItem("lang") || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");
let current = STRINGS[initial] ? initial : "en";

export function lang() {
  return current;
}

export function setLang(value) {
  current = STRINGS[value] ? value : "en";
  localStorage.setItem("lang", current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

export function locale() {
  return current === "zh" ? "zh-CN" : "en";
}

export function t(key, vars = {}) {
  const value = key.split(".").reduce((node, part) => (node ? node[part] : undefined), STRINGS[current]);
  return String(value ?? key).replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
}

/** The message to show for an API error: ours for known codes, else the API's own text. */
export function errorText(error) {
  if (!error || !error.code) return t("errors.network");
  const known = STRINGS[current].errors[error.code];
  return known ? t(`errors.${error.code}`, { s: error.retryAfter ?? "" }) : error.message;
}

setLang(current);
