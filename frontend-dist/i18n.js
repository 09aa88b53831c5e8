// Every piece of UI text, in Chinese and English: the site's own here; the account pages' in
// i18n-account.js, the admin pages' in i18n-admin.js, the quota line's, the feedback on
// replies', the search's and the usage dashboard's in i18n-usage.js, and the terms', the health
// consent's and the reports' in i18n-trust.js, the pictures' in i18n-pictures.js, the oracle's
// readings' in i18n-oracle.js and the constitution self-assessment's in i18n-constitution.js,
// all merged in below. The
// language is remembered in localStorage (`lang`); the first visit follows navigator.language.
// The same choice sets the language the assistants reply in (the API's `locale`), and, for a
// signed-in account, the language of its mail.
import { ACCOUNT_STRINGS } from "./i18n-account.js";
import { ADMIN_STRINGS } from "./i18n-admin.js";
import { CONSTITUTION_STRINGS } from "./i18n-constitution.js";
import { ORACLE_STRINGS } from "./i18n-oracle.js";
import { PICTURE_STRINGS } from "./i18n-pictures.js";
import { TRUST_STRINGS } from "./i18n-trust.js";
import { USAGE_STRINGS } from "./i18n-usage.js";

const STRINGS = {
  zh: {
    brand: "易医问答",
    brandSub: "Oracle & TCM",
    tagline: "易经指引 · 中医养生",
    switchTo: "English",
    switchToShort: "EN",
    switchLabel: "切换到英文",

    // auth
    heroTitle: "观象以知变，\n顺时以养生。",
    heroText: "两位安静的向导：以《易经》照见处境的易者，与分享四时养生之道的中医顾问。",
    heroOracle: "易者 · 易经占问与指引",
    heroTcm: "中医顾问 · 四时养生建议",
    login: "登录",
    register: "注册",
    loginTitle: "欢迎回来",
    registerTitle: "创建账号",
    loginLead: "登录后继续你的对话。",
    registerLead: "注册后即可与两位向导对话，并保存记录。",
    email: "邮箱",
    emailPlaceholder: "you@example.com",
    password: "密码",
    passwordHint: "至少 8 个字符，最多 72 字节。",
    showPassword: "显示密码",
    hidePassword: "隐藏密码",
    noAccount: "还没有账号？",
    haveAccount: "已有账号？",
    submitting: "请稍候……",
    checkEmail: "请输入有效的邮箱地址。",
    checkPassword: "请输入密码。",

    // chrome
    chat: "对话",
    admin: "管理",
    account: "账号",
    logout: "退出登录",
    logoutAll: "在所有设备上退出",
    loggedOut: "你已退出登录。",
    loggedOutAll: "已在所有设备上退出（共 {n} 个会话）。",
    sessionEnded: "你的登录已失效（可能已在别处退出，或账号已被停用）。请重新登录。",
    roleAdmin: "管理员",
    roleUser: "用户",
    menu: "对话列表",
    close: "关闭",
    cancel: "取消",
    save: "保存",

    // assistants
    oracle: "易者",
    oracleDesc: "易经占问与指引",
    tcm: "中医顾问",
    tcmDesc: "中医四时养生",
    oracleGlyph: "易",
    tcmGlyph: "医",

    // chat
    newChat: "新对话",
    conversations: "对话记录",
    noConversations: "还没有对话。提出第一个问题吧。",
    loadMore: "加载更多",
    loadEarlier: "加载更早的消息",
    rename: "重命名",
    delete: "删除",
    more: "更多操作",
    renameTitle: "重命名对话",
    titleLabel: "标题",
    titleInvalid: "标题需为 1–120 个字符。",
    deleteTitle: "删除这个对话？",
    deleteText: "“{title}”及其全部消息将被永久删除。",
    deleted: "对话已删除。",
    renamed: "已重命名。",
    welcomeOracleTitle: "静心，提出你的问题",
    welcomeOracle: "易者以《易经》为镜，与你一同观照处境、理解变化。问“我该如何面对……”比问“会不会……”更有益。",
    welcomeTcmTitle: "顺应四时，调和身心",
    welcomeTcm: "中医顾问分享饮食、作息、情志与运动上的养生之道。这里不做诊断；身体不适请及时就医。",
    suggestOracle: ["我正面临工作的转变，该如何看待？", "乾卦对我现在的处境有什么启示？", "如何在变化中保持内心的安定？"],
    suggestTcm: ["秋天如何养肺？", "经常失眠，有哪些调理建议？", "久坐办公，怎样养护脾胃？"],
    placeholderOracle: "写下你心中的问题……",
    placeholderTcm: "说说你想调理的方面……",
    composerLabel: "消息",
    send: "发送",
    stop: "停止",
    hint: "回答偏好",
    hintLabel: "回答偏好（可选，会附加到本次回答的要求中）",
    hintPlaceholder: "例如：请简短一些，多用比喻",
    hintOff: "未设置",
    enterToSend: "Enter 发送 · Shift+Enter 换行",
    charsLeft: "还可输入 {n} 字",
    tooLong: "消息过长：最多 4000 字。",
    thinking: "正在凝神……",
    thinkDeeply: "深度思考",
    thinkDeeplyTitle: "深度思考：先推理再作答（较慢），推理过程可展开查看",
    thinkingLive: "正在思考……（{seconds} 秒）",
    thoughtFor: "已深度思考（用时 {seconds} 秒）",
    stopping: "正在停止……",
    stopped: "已停止",
    stoppedHere: "已停止显示。完整回答仍会在后台生成并保存，重新打开此对话即可查看。",
    fromClient: "来自你之前保存的对话记录，并非本站生成。",
    messageBlocked: "未发送给助手：内容不符合使用规范。你可以编辑后重新发送。",
    aiLabel: "AI生成",
    aiLabelCopy: "（以上内容由人工智能生成）",
    aiLabelCopyWithModel: "（以上内容由人工智能生成，模型：{model}）",
    aiDisclosure: "回答由人工智能生成",
    aiModel: "模型：{model}",
    aiThinkingModel: "深度思考模型：{model}",
    copyReply: "复制回答",
    copied: "已复制",
    copyFailed: "无法复制，请手动选择文字",
    redFlagEmergencyTitle: "这可能是紧急情况",
    redFlagEmergencyBody: "请立即拨打 {emergency}，或尽快前往最近的医院急诊。不要等待线上回复。",
    redFlagCrisisTitle: "你并不孤单",
    redFlagCrisisBody: "请拨打全国心理援助热线 {crisis}；如果现在有危险，请拨打 {emergency}。也可以马上联系一位你信任的人。",
    replyBlocked: "这条回复未能显示：内容不符合使用规范。",
    regenerate: "重新生成",
    editMessage: "编辑",
    editLabel: "编辑你的消息",
    saveAndSend: "保存并发送",
    editKeys: "Ctrl+Enter 发送 · Esc 取消",
    previousVersion: "上一版本",
    nextVersion: "下一版本",
    versionOf: "第 {n} 版，共 {total} 版",
    retry: "重试",
    disclaimerOracle: "易者的回答是一种观照与启发，而非预言。",
    disclaimerTcm: "养生建议仅供参考，不构成医疗建议。",
    footnote: "易者予人启发而非预言；养生建议不能代替医生。",
    you: "你",
    replyFrom: "{name} 的回答",
    notFound: "找不到这个对话，可能已被删除。",

    // time
    justNow: "刚刚",
    minutesAgo: "{n} 分钟前",
    hoursAgo: "{n} 小时前",
    yesterday: "昨天",
    daysAgo: "{n} 天前",
    seconds: "{n} 秒",
    minutes: "{n} 分钟",
    hours: "{n} 小时",
    hoursMinutes: "{h} 小时 {m} 分钟",

    errors: {
      invalid_credentials: "邮箱或密码不正确。",
      email_taken: "该邮箱已注册，请直接登录。",
      password_too_short: "密码至少需要 8 个字符。",
      password_too_long: "密码过长：最多 72 字节（约 24 个汉字）。",
      invalid_email: "请输入有效的邮箱地址。",
      account_banned: "该账号已被停用，无法登录。如有疑问请联系管理员。",
      rate_limited: "请求过于频繁，请在 {wait}后再试。",
      rate_limited_chat: "你已用完当前的消息额度，请在 {wait}后再试。",
      rate_limited_nowait: "请求过于频繁，请稍后再试。",
      too_many_streams: "你有其他回答正在生成，请稍候片刻再发送。",
      llm_not_configured: "助手尚未配置（服务器未设置模型），请联系管理员。",
      upstream_error: "助手暂时无法回答，请稍后重试。",
      upstream_timeout: "助手响应超时，请重试。",
      upstream_stream_broken: "回答中途中断了，请重试。",
      upstream_empty_reply: "助手没有给出回答，请重试。",
      stream_incomplete: "连接中断，回答没有完整收到。请重新打开此对话查看，或重试。",
      missing_token: "请先登录。",
      invalid_token: "登录已失效，请重新登录。",
      admin_only: "只有管理员可以访问此页面。",
      not_found: "找不到请求的内容。",
      message_too_long: "消息过长：最多 4000 字。",
      system_hint_too_long: "回答偏好过长：最多 500 字。",
      conversation_type_mismatch: "这个对话属于另一位助手，请开始新对话。",
      conversation_too_long: "这个对话已经太长了，请开始新对话。",
      nothing_to_regenerate: "这里没有可以重新生成的回答。",
      not_a_user_message: "只能编辑你自己的消息。",
      reply_too_long: "回答太长，已被中断。请重试，或请它简短一些。",
      invalid_title: "标题需为 1–120 个字符。",
      empty_message: "请先写下你的问题。",
      database_unavailable: "服务暂时不可用，请稍后重试。",
      network_error: "网络错误，请检查连接后重试。",
      internal_error: "服务器出错了，请稍后重试。",
    },
  },

  en: {
    brand: "Oracle & TCM",
    brandSub: "易医问答",
    tagline: "I Ching guidance · TCM wellness",
    switchTo: "中文",
    switchToShort: "中",
    switchLabel: "Switch to Chinese",

    heroTitle: "Read the signs of change.\nLive in tune with the seasons.",
    heroText: "Two quiet guides: the Oracle, who holds up the Book of Changes as a mirror, and a Traditional Chinese Medicine adviser for everyday wellbeing.",
    heroOracle: "The Oracle · I Ching guidance",
    heroTcm: "TCM adviser · seasonal wellness",
    login: "Log in",
    register: "Create account",
    loginTitle: "Welcome back",
    registerTitle: "Create your account",
    loginLead: "Log in to continue your conversations.",
    registerLead: "An account keeps your conversations with both guides.",
    email: "Email",
    emailPlaceholder: "you@example.com",
    password: "Password",
    passwordHint: "At least 8 characters, at most 72 bytes.",
    showPassword: "Show password",
    hidePassword: "Hide password",
    noAccount: "New here?",
    haveAccount: "Already have an account?",
    submitting: "One moment…",
    checkEmail: "Please enter a valid email address.",
    checkPassword: "Please enter your password.",

    chat: "Chat",
    admin: "Admin",
    account: "Account",
    logout: "Log out",
    logoutAll: "Log out on all devices",
    loggedOut: "You have logged out.",
    loggedOutAll: "Logged out on all devices ({n} sessions).",
    sessionEnded: "Your session has ended (you were logged out elsewhere, or the account was suspended). Please log in again.",
    roleAdmin: "Admin",
    roleUser: "User",
    menu: "Conversations",
    close: "Close",
    cancel: "Cancel",
    save: "Save",

    oracle: "The Oracle",
    oracleDesc: "I Ching guidance",
    tcm: "TCM adviser",
    tcmDesc: "Seasonal wellness",
    oracleGlyph: "易",
    tcmGlyph: "医",

    newChat: "New conversation",
    conversations: "Conversations",
    noConversations: "No conversations yet. Ask your first question.",
    loadMore: "Load more",
    loadEarlier: "Load earlier messages",
    rename: "Rename",
    delete: "Delete",
    more: "More actions",
    renameTitle: "Rename conversation",
    titleLabel: "Title",
    titleInvalid: "A title has 1 to 120 characters.",
    deleteTitle: "Delete this conversation?",
    deleteText: "“{title}” and all its messages will be deleted for good.",
    deleted: "Conversation deleted.",
    renamed: "Renamed.",
    welcomeOracleTitle: "Be still, and ask",
    welcomeOracle: "The Oracle reads your situation through the Book of Changes. Open questions (“How should I approach…”) serve you better than yes-or-no ones.",
    welcomeTcmTitle: "In tune with the seasons",
    welcomeTcm: "The TCM adviser shares ideas on food, rest, mood and movement. It does not diagnose; if you feel unwell, please see a doctor.",
    suggestOracle: ["I am facing a change at work. How should I see it?", "What does hexagram one, The Creative, say to me now?", "How can I stay steady while things change?"],
    suggestTcm: ["How can I sleep better?", "What should I eat as autumn turns dry?", "I sit at a desk all day. How do I care for my digestion?"],
    placeholderOracle: "Write the question on your mind…",
    placeholderTcm: "Tell me what you would like to bring into balance…",
    composerLabel: "Message",
    send: "Send",
    stop: "Stop",
    hint: "Reply preference",
    hintLabel: "Reply preference (optional, added to the instructions for this reply)",
    hintPlaceholder: "e.g. keep it short, use images from nature",
    hintOff: "none",
    enterToSend: "Enter to send · Shift+Enter for a new line",
    charsLeft: "{n} characters left",
    tooLong: "The message is too long: 4,000 characters at most.",
    thinking: "Gathering thoughts…",
    thinkDeeply: "Think deeply",
    thinkDeeplyTitle: "Think deeply: the assistant reasons before it answers (slower); open its reasoning to read it",
    thinkingLive: "Thinking… ({seconds} s)",
    thoughtFor: "Thought for {seconds} s",
    stopping: "Stopping…",
    stopped: "Stopped",
    stoppedHere: "No longer shown here. The full reply is still written and saved in the background; reopen this conversation to read it.",
    fromClient: "Brought from a conversation you kept elsewhere: not written here.",
    messageBlocked: "Not sent to the assistant: it does not meet the content rules. You can edit it and send it again.",
    aiLabel: "AI-generated",
    aiLabelCopy: "(AI-generated content)",
    aiLabelCopyWithModel: "(AI-generated content, model: {model})",
    aiDisclosure: "Replies are generated by AI",
    aiModel: "model: {model}",
    aiThinkingModel: "thinking model: {model}",
    copyReply: "Copy the reply",
    copied: "Copied",
    copyFailed: "Could not copy; select the text instead",
    redFlagEmergencyTitle: "This may be an emergency",
    redFlagEmergencyBody: "Call {emergency} now, or go to the nearest emergency department. Do not wait for an answer online.",
    redFlagCrisisTitle: "You don't have to face this alone",
    redFlagCrisisBody: "Call the psychological assistance hotline {crisis}, or {emergency} if you are in danger now. Reach out to someone you trust.",
    replyBlocked: "This reply cannot be shown: it does not meet the content rules.",
    regenerate: "Regenerate",
    editMessage: "Edit",
    editLabel: "Edit your message",
    saveAndSend: "Save & send",
    editKeys: "Ctrl+Enter to send · Esc to cancel",
    previousVersion: "Previous version",
    nextVersion: "Next version",
    versionOf: "Version {n} of {total}",
    retry: "Retry",
    disclaimerOracle: "The Oracle offers reflection, not prediction.",
    disclaimerTcm: "Wellness ideas only, not medical advice.",
    footnote: "Reflection, not prediction. Wellness ideas, not a doctor.",
    you: "You",
    replyFrom: "Reply from {name}",
    notFound: "That conversation was not found; it may have been deleted.",

    justNow: "just now",
    minutesAgo: "{n} min ago",
    hoursAgo: "{n} h ago",
    yesterday: "yesterday",
    daysAgo: "{n} days ago",
    seconds: "{n} s",
    minutes: "{n} min",
    hours: "{n} h",
    hoursMinutes: "{h} h {m} min",

    errors: {
      invalid_credentials: "The email or password is incorrect.",
      email_taken: "An account with this email already exists. Try logging in.",
      password_too_short: "The password needs at least 8 characters.",
      password_too_long: "The password is too long: 72 bytes at most.",
      invalid_email: "Please enter a valid email address.",
      account_banned: "This account has been suspended and cannot log in. Contact an administrator if you think this is a mistake.",
      rate_limited: "Too many attempts. Please try again in {wait}.",
      rate_limited_chat: "You have used up your message allowance for now. Please try again in {wait}.",
      rate_limited_nowait: "Too many attempts. Please try again later.",
      too_many_streams: "Another reply is still being written. Please wait a moment before sending.",
      llm_not_configured: "The assistant is not set up on this server yet. Please contact the administrator.",
      upstream_error: "The assistant cannot answer right now. Please try again shortly.",
      upstream_timeout: "The assistant took too long to answer. Please try again.",
      upstream_stream_broken: "The reply broke off. Please try again.",
      upstream_empty_reply: "The assistant gave no answer. Please try again.",
      stream_incomplete: "The connection dropped before the reply was complete. Reopen the conversation to read it, or retry.",
      missing_token: "Please log in first.",
      invalid_token: "Your session has expired. Please log in again.",
      admin_only: "Only administrators can open this page.",
      not_found: "That could not be found.",
      message_too_long: "The message is too long: 4,000 characters at most.",
      system_hint_too_long: "The reply preference is too long: 500 characters at most.",
      conversation_type_mismatch: "This conversation belongs to the other assistant. Start a new conversation.",
      conversation_too_long: "This conversation has grown too long. Please start a new one.",
      nothing_to_regenerate: "There is nothing here to regenerate.",
      not_a_user_message: "Only your own messages can be edited.",
      reply_too_long: "The reply ran too long and was cut off. Retry, or ask for a shorter one.",
      invalid_title: "A title has 1 to 120 characters.",
      empty_message: "Write your question first.",
      database_unavailable: "The service is briefly unavailable. Please try again.",
      network_error: "Network error. Check your connection and try again.",
      internal_error: "Something went wrong on the server. Please try again.",
    },
  },
};

export const LANGS = ["zh", "en"];

for (const language of LANGS) {
  for (const strings of [ACCOUNT_STRINGS, ADMIN_STRINGS, USAGE_STRINGS, TRUST_STRINGS, ORACLE_STRINGS, CONSTITUTION_STRINGS, PICTURE_STRINGS]) {
    const { errors = {}, ...rest } = strings[language];
    Object.assign(STRINGS[language], rest);
    Object.assign(STRINGS[language].errors, errors);
  }
}
const STORAGE_KEY = "lang";

function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // storage blocked: follow the browser
  }
  const preferred = [...(navigator.languages || []), navigator.language || ""];
  return preferred.find(Boolean)?.toLowerCase().startsWith("zh") ? "zh" : "en";
}

let current = initialLang();
const listeners = new Set();

export function lang() {
  return current;
}

/** The API's `locale` for the current language. */
export function locale() {
  return current === "zh" ? "zh-CN" : "en";
}

export function setLang(value) {
  current = LANGS.includes(value) ? value : "en";
  try {
    localStorage.setItem(STORAGE_KEY, current);
  } catch {
    // not remembered, still applied
  }
  applyDocumentLang();
  listeners.forEach((listener) => listener(current));
}

export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function applyDocumentLang() {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

function lookup(key, language = current) {
  return key.split(".").reduce((node, part) => (node == null ? undefined : node[part]), STRINGS[language]);
}

/** The text for `key` ("errors.invalid_token"), with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const value = lookup(key);
  if (Array.isArray(value)) return value;
  return String(value ?? key).replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? ""));
}

export function has(key) {
  return lookup(key) !== undefined;
}

/** "3 min", "2 h 5 min": a wait in seconds, in words. */
export function duration(seconds) {
  const s = Math.max(1, Math.round(Number(seconds) || 0));
  if (s < 60) return t("seconds", { n: s });
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return t("minutes", { n: minutes });
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? t("hoursMinutes", { h, m }) : t("hours", { n: h });
}

/** "5 min ago", "yesterday", or a date: when something happened. */
export function relativeTime(iso) {
  const then = new Date(iso);
  const diff = (Date.now() - then.getTime()) / 1000;
  if (!Number.isFinite(diff)) return "";
  if (diff < 60) return t("justNow");
  if (diff < 3600) return t("minutesAgo", { n: Math.floor(diff / 60) });
  if (diff < 86400) return t("hoursAgo", { n: Math.floor(diff / 3600) });
  if (diff < 2 * 86400) return t("yesterday");
  if (diff < 7 * 86400) return t("daysAgo", { n: Math.floor(diff / 86400) });
  return then.toLocaleDateString(locale(), { year: "numeric", month: "short", day: "numeric" });
}

export function dateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? String(iso ?? "")
    : date.toLocaleString(locale(), { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/**
 * What to tell a person about a failed call: our own words for the codes we know (in the
 * current language), otherwise the API's message. `context` "chat" words 429 as the quota.
 */
export function errorText(error, context = "") {
  if (!error) return t("errors.network_error");
  const code = error.code || "";
  if (code === "rate_limited") {
    if (error.retryAfter == null) return t("errors.rate_limited_nowait");
    const wait = duration(error.retryAfter);
    return t(context === "chat" ? "errors.rate_limited_chat" : "errors.rate_limited", { wait });
  }
  // An administrator's restriction says until when, in the reader's language and time zone.
  const until = error.body?.error?.until;
  if (code === "chat_restricted" && until) return t("errors.chat_restricted_until", { date: dateTime(until) });
  if (has(`errors.${code}`)) return t(`errors.${code}`);
  if (error.message) return error.message;
  return t("errors.network_error");
}

applyDocumentLang();
