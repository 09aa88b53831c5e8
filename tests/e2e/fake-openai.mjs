// An OpenAI-compatible chat-completions server for the browser tests (and for trying the site by
// hand: `node tests/e2e/fake-openai.mjs [port]` prints its base URL, then point OPENAI_BASE_URL
// at it). POST /v1/chat/completions answers whole (JSON) or streamed (SSE chunks, a short pause
// between them, a final usage chunk, then `data: [DONE]`).
//
// The reply depends on the request, so the tests can see what reached the model: it names the
// persona and language it found in the system prompt, the user's hint, how many messages of
// history it got and the question. It also carries Markdown and a <script> tag, to show that
// the site renders the one and neutralises the other. Words in the user's message steer it:
//   [xss]   a reply made of HTML/JavaScript injection attempts
//   [slow]  a long reply, streamed slowly (for the stop button)
//   [fail]  a 400 from the model, which the API turns into 502 upstream_error
//   [slowtitle]  the title for the conversation comes TITLE_SLOW_MS late
//   [unsafe]  a reply whose second sentence holds UNSAFE_OUTPUT (moderation blocks it)
// It also answers POST /v1/moderations (OpenAI's form): text holding UNSAFE_INPUT or
// UNSAFE_OUTPUT is flagged; `moderations` records what was checked.
// Requests for the title model (`model` TITLE_MODEL, the app's CHAT_TITLE_MODEL) get a fixed
// title (TITLE_TEXT, in the language of the request) and are recorded apart from chat requests.
// A request with `enable_thinking: true` (DashScope's switch) thinks first: THINKING_TEXT (in the
// request's language) streamed as `reasoning_content`, before the reply; asked to think without
// streaming it answers 400, as DashScope does.
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const TITLE_MODEL = "e2e-title-model";
// The tongue model (the app's CHAT_TONGUE_MODEL) answers every request with these observations.
export const TONGUE_MODEL = "e2e-tongue-model";
export const TONGUE_OBSERVATIONS = {
  usable: true, problem: null, bodyColour: "pale", coatingColour: "white", coatingThickness: "thin",
  coatingMoisture: "moist", shape: "swollen", toothMarks: "slight", cracks: "none", notes: "tooth marks along the sides",
};
export const TITLE_TEXT = { en: "Title by the model", zh: "模型写的标题" };
export const TITLE_SLOW_MS = 3000;
export const UNSAFE_INPUT = "forbidden-input";
export const UNSAFE_OUTPUT = "FORBIDDEN-OUTPUT";
export const THINKING_TEXT = {
  en: "First the question itself: what is being asked, and what is not. Then the lines, from the bottom up.",
  zh: "先看问题本身：问的是什么，没问什么。再自下而上看六爻。",
};

/** A message's text: its content, or the text of its content parts (a message with pictures). */
export function textOf(content) {
  return Array.isArray(content) ? content.filter((part) => part?.type === "text").map((part) => part.text).join("") : String(content ?? "");
}

/** The picture URLs of a message's `image_url` parts. */
export function picturesOf(content) {
  return Array.isArray(content) ? content.filter((part) => part?.type === "image_url").map((part) => part.image_url?.url) : [];
}

/** What the system prompt says about the assistant: persona, language, the user's hint. */
export function describe(messages) {
  const system = messages.find((m) => m.role === "system")?.content ?? "";
  const head = system.split("\n")[0];
  const persona = /I Ching|易经|《易经》|The Oracle|易者/.test(head) ? "oracle" : /Chinese Medicine|中医/.test(head) ? "tcm" : "unknown";
  const lang = /[\u4e00-\u9fff]/.test(head) ? "zh" : "en";
  const hint = /<user_hint>\n([\s\S]*?)\n<\/user_hint>/.exec(system)?.[1] ?? "none";
  const turns = messages.filter((m) => m.role !== "system");
  const question = textOf([...turns].reverse().find((m) => m.role === "user")?.content);
  const pictures = turns.reduce((count, m) => count + picturesOf(m.content).length, 0);
  return { persona, lang, hint, history: turns.length, question, pictures };
}

export const XSS_REPLY = [
  "Injection attempts follow; every one must stay inert.",
  "",
  '<script>window.__xss = "script"</script>',
  "",
  '<img src="x" onerror="window.__xss = \'img\'">',
  "",
  "[click me](javascript:window.__xss='link')",
  "",
  "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "",
  '![tracking](x" onerror="window.__xss=\'alt\')',
  "",
  "<a href=\"javascript:window.__xss='raw-a'\">raw anchor</a> and <iframe src=\"javascript:alert(1)\"></iframe>",
  "",
  '<svg onload="window.__xss=\'svg\'"></svg> <b onmouseover="window.__xss=\'b\'">bold?</b>',
  "",
  "A fine link: [the Book of Changes](https://en.wikipedia.org/wiki/I_Ching).",
].join("\n");

/** The reply text for a request. */
export function replyFor(messages) {
  const d = describe(messages);
  if (d.question.includes("[xss]")) return XSS_REPLY;
  if (d.question.includes("[unsafe]")) {
    return `This first sentence is harmless. Then the reply says ${UNSAFE_OUTPUT} here. And more follows after it.`;
  }
  const tag = `\`persona=${d.persona} lang=${d.lang} hint=${d.hint} history=${d.history}${d.pictures ? ` pictures=${d.pictures}` : ""}\``;
  if (d.question.includes("[slow]")) {
    const line = d.lang === "zh" ? "天行健，君子以自强不息。" : "Heaven moves with strength; the wise keep going. ";
    return `${tag}\n\n` + Array.from({ length: 12 }, (_, i) => `${i + 1}. ${line}`).join("\n");
  }
  const bodies = {
    "oracle:en": [
      `**The Oracle** heard: “${d.question}”`,
      "",
      "### ䷀ Hexagram 1 · Qián — The Creative",
      "Heaven above heaven: steady, tireless strength. *The noble one makes themselves strong without ceasing.*",
      "",
      "- **Judgment:** sublime success, furthering through perseverance.",
      "- **Image:** the movement of heaven is full of power.",
      "- **For you:** begin what you have postponed, and keep an even pace.",
      "",
      "> Change is not to be feared; it is to be understood.",
    ],
    "oracle:zh": [
      `**易者**听到了你的问题：“${d.question}”`,
      "",
      "### ䷀ 乾为天 · 第一卦",
      "天行健，君子以*自强不息*。上下皆乾，刚健中正。",
      "",
      "- **卦辞：**元亨利贞。",
      "- **大象：**天道运行，周而复始，永不停息。",
      "- **启示：**宜把握时机，循序渐进，持之以恒。",
      "",
      "> 变易之中，自有不易之理。",
    ],
    "tcm:en": [
      `**TCM adviser** heard: “${d.question}”`,
      "",
      "### Settling the spirit for sleep",
      "In TCM, restless nights often point to the *heart* and *liver* being overactive in the evening.",
      "",
      "1. **Rhythm:** be in bed before 11 pm, when the gallbladder hour begins.",
      "2. **Food:** a warm bowl of millet porridge with jujube dates.",
      "3. **Practice:** five minutes of slow breathing, or a foot soak.",
      "",
      "> This is general wellness information, not medical advice.",
    ],
    "tcm:zh": [
      `**中医顾问**听到了你的问题：“${d.question}”`,
      "",
      "### 秋季润肺养生",
      "秋属金，与*肺*相应，燥气当令，宜**滋阴润燥**。",
      "",
      "1. **饮食：**多食梨、百合、银耳、山药，少食辛辣。",
      "2. **起居：**早卧早起，与鸡俱兴。",
      "3. **运动：**练习八段锦，舒展胸廓。",
      "",
      "> 以上为一般养生知识，不构成医疗建议。",
    ],
  };
  const body = bodies[`${d.persona}:${d.lang}`] ?? [`heard: ${d.question}`];
  return [...body, "", `${tag} <script>window.__injected = true</script>`].join("\n");
}

/** Splits text into small pieces (two words, or three CJK characters) to stream. */
export function pieces(text) {
  return text.match(/[\u3000-\u9fff\uff00-\uffef]{1,3}|\s*[^\s\u3000-\u9fff\uff00-\uffef]+(?:\s+[^\s\u3000-\u9fff\uff00-\uffef]+)?\s*|\s+/g) ?? [text];
}

/** The title model's answer: the fixed title, as the model would write it (quoted, with a full stop). */
function titleFor(messages) {
  const { lang } = describe(messages);
  return lang === "zh" ? `“${TITLE_TEXT.zh}”。` : `"${TITLE_TEXT.en}."`;
}

/**
 * Starts the server. `delayMs`: pause between streamed pieces; `slowDelayMs`: the same for
 * `[slow]` replies. Resolves to `{url, baseUrl, requests, titleRequests, tongueRequests, moderations, close}`: the
 * bodies of the chat requests received, those of the title requests, and the moderation checks.
 */
export function startFakeOpenAI({ port = 0, delayMs = 25, slowDelayMs = 200 } = {}) {
  const requests = [];
  const titleRequests = [];
  const tongueRequests = [];
  const moderations = [];
  const server = createServer(async (req, res) => {
    if (req.method === "POST" && req.url.endsWith("/moderations")) {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const input = String(JSON.parse(raw || "{}").input ?? "");
      const flagged = input.includes(UNSAFE_INPUT) || input.includes(UNSAFE_OUTPUT);
      moderations.push({ input, flagged });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ id: "modr-e2e", model: "e2e", results: [{ flagged, categories: { violence: flagged }, category_scores: { violence: flagged ? 0.99 : 0 } }] }));
      return;
    }
    if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }));
      return;
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "invalid JSON", type: "invalid_request_error" } }));
      return;
    }
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const { question } = describe(messages);
    if (body.model === TONGUE_MODEL) {
      tongueRequests.push(body);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({
        id: "o", object: "chat.completion", created: 1, model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: `Observed:\n${JSON.stringify(TONGUE_OBSERVATIONS)}` }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }));
      return;
    }
    if (body.model === TITLE_MODEL) {
      titleRequests.push(body);
      if (question.includes("[slowtitle]")) await sleep(TITLE_SLOW_MS);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({
        id: "t", object: "chat.completion", created: 1, model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: titleFor(messages) }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }));
      return;
    }
    requests.push(body);
    if (question.includes("[fail]")) {
      res.writeHead(400, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "the test model refuses", type: "invalid_request_error", code: "test_failure" } }));
      return;
    }
    const text = replyFor(messages);
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    const thinks = body.enable_thinking === true;
    if (thinks && !body.stream) {
      res.writeHead(400, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "thinking is streamed only", type: "invalid_request_error", code: null } }));
      return;
    }
    if (!body.stream) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({
        id: "x", object: "chat.completion", created: 1, model: body.model ?? "m",
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage,
      }));
      return;
    }
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    let closed = false;
    res.on("close", () => (closed = true));
    const send = (payload) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    const chunk = (choices, extra = {}) => ({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices, ...extra });
    const delay = question.includes("[slow]") ? slowDelayMs : delayMs;
    if (thinks) {
      const thought = THINKING_TEXT[describe(messages).lang] ?? THINKING_TEXT.en;
      // One token a piece, reported as the thinking's (and counted in the completion's).
      usage.completion_tokens += pieces(thought).length;
      usage.total_tokens += pieces(thought).length;
      usage.completion_tokens_details = { reasoning_tokens: pieces(thought).length };
      for (const piece of pieces(thought)) {
        if (closed) return;
        send(chunk([{ index: 0, delta: { content: null, reasoning_content: piece }, finish_reason: null }]));
        await sleep(delay * 4); // long enough to see "Thinking…" open
      }
    }
    for (const piece of pieces(text)) {
      if (closed) return;
      send(chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]));
      await sleep(delay);
    }
    send(chunk([{ index: 0, delta: {}, finish_reason: "stop" }]));
    send(chunk([], { usage }));
    res.end("data: [DONE]\n\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({
        url,
        baseUrl: `${url}/v1`,
        requests,
        titleRequests,
        tongueRequests,
        moderations,
        close: () => new Promise((done) => { server.closeAllConnections?.(); server.close(() => done()); }),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const upstream = await startFakeOpenAI({ port: Number(process.argv[2] ?? 0) });
  console.log(upstream.baseUrl);
}
