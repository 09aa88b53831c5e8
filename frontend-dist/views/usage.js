// #/admin/usage: the usage dashboard. A period (the last 30 or 90 days by day, the last year by
// week, at the browser's offset rounded to whole hours), its totals, five charts (messages per
// assistant, tokens, active users and registrations, stopped replies and model errors, the share
// of thumbs up per assistant) and the top users by tokens, with Ban/Unban.
//
// Each chart is inline SVG (charts.js) with a title, axis labels, a legend and a one-line
// summary for screen readers (aria-describedby); its numbers are a real <table> under "Show as
// table" and a CSV file (csv.js). The arithmetic is in usage-data.js.
import * as api from "../api.js";
import { barChart, lineChart, shareBars, chartSize } from "../charts.js";
import { downloadCsv } from "../csv.js";
import { h, icon, toast } from "../dom.js";
import { errorText, locale, t } from "../i18n.js";
import { toggleBan } from "./ban.js";
import { ASSISTANTS, RANGES, column, feedbackShares, messagesByAssistant, offsetName, sum, usageQuery } from "../usage-data.js";

// Told apart by more than hue: the second series of a pair is dashed (lines) or hatched (bars),
// and the pairs differ in lightness.
const COLORS = { oracle: "#a6372a", tcm: "#2e6a58", blue: "#36577f", gold: "#a8741a", sand: "#c8a15a" };
const RANGE_LABELS = { "30d": "usageLast30", "90d": "usageLast90", "1y": "usageLastYear" };
const TOTALS = [
  ["messages", "usageMessages"], ["replies", "usageReplies"], ["tokens", "usageTokens"], ["activeUsers", "usageActiveUsers"],
  ["registrations", "usageRegistrations"], ["stopped", "usageStopped"], ["modelErrors", "usageModelErrors"],
];
const memory = { range: "30d" }; // survives a language switch or a visit elsewhere

const number = (value) => new Intl.NumberFormat(locale()).format(value);
const percent = (value) => new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 0 }).format(value);

/** A "YYYY-MM-DD" in words, in the page's language (the date as such: no time zone shift). */
function day(iso, options = { month: "short", day: "numeric" }) {
  const [y, m, d] = String(iso).split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", ...options }).format(new Date(Date.UTC(y, m - 1, d)));
}
const longDay = (iso) => day(iso, { year: "numeric", month: "short", day: "numeric" });

/** A cell of a numbers table (`data-value`: the number itself). */
const numberCell = (value) => h("td.num", { dataset: { value: String(value) } }, number(value));

/**
 * One chart: `{key, title, legend: [{name, color, style: "line"|"dash"|"box"|"hatch"}], draw(size),
 * head: [labels], rows: [[label, ...numbers]], foot: [label, ...numbers] | null, csv: [[...]],
 * summary, filename}`. `el.draw()` draws its SVG at the width it has.
 */
function figure(spec) {
  const id = `usage-${spec.key}`;
  const canvas = h("div.chart-canvas");
  const table = h("table.numbers", { id: `${id}-table` },
    h("caption", {}, spec.title),
    h("thead", {}, h("tr", {}, spec.head.map((label, i) => h("th", { scope: "col", class: i ? "num" : null }, label)))),
    h("tbody", {}, spec.rows.map(([label, ...values]) => h("tr", {},
      h("th", { scope: "row" }, label), values.map((value) => (typeof value === "number" ? numberCell(value) : h("td.num", {}, value)))))),
    spec.foot ? h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, spec.foot[0]),
      spec.foot.slice(1).map((value) => (typeof value === "number" ? numberCell(value) : h("td.num", {}, value))))) : null);
  const csv = h("button.button.ghost.small.download-csv", {
    type: "button", dataset: { csv: spec.key }, "aria-label": `${t("downloadCsv")}: ${spec.title}`,
    onclick: () => {
      const file = downloadCsv(spec.filename, spec.csv);
      toast(t("csvSaved", { file: file.filename }));
    },
  }, icon("download", 15), h("span", {}, t("downloadCsv")));
  const legend = spec.legend?.length
    ? h("ul.chart-legend", {}, spec.legend.map((item) => h("li", {},
      h(`span.swatch.${item.style ?? "box"}`, { "aria-hidden": "true", style: `--swatch: ${item.color}` }), item.name)))
    : null;
  const el = h("figure.chart-figure", { dataset: { chart: spec.key }, "aria-labelledby": `${id}-title` },
    h("div.chart-head", {}, h("h3.chart-title", { id: `${id}-title` }, spec.title), csv),
    legend,
    canvas,
    h("p.sr-only", { id: `${id}-summary` }, spec.summary),
    h("details.chart-table", {}, h("summary", {}, t("showTable")), h("div.table-wrap", {}, table)));
  let drawn = 0;
  el.draw = () => {
    const width = canvas.clientWidth || 640;
    if (drawn && Math.abs(width - drawn) < 16) return;
    drawn = width;
    canvas.replaceChildren(spec.draw({ ...chartSize(width), labelledBy: `${id}-title`, describedBy: `${id}-summary` }));
  };
  return el;
}

/** "Messages: 12 in all; the most, 7, on Dec 2." for a chart over the periods. */
function summary(title, labels, totals) {
  const total = sum(totals);
  if (!total) return t("chartSummaryEmpty", { title });
  const max = Math.max(...totals);
  return t("chartSummary", { title, total: number(total), max: number(max), when: labels[totals.indexOf(max)] });
}

/** The five charts of a report. */
function charts(report) {
  const weekly = report.bucket === "week";
  const starts = report.periods.map((period) => period.start);
  const labels = starts.map((start) => day(start));
  const rowLabels = starts.map(longDay);
  const xLabel = t(weekly ? "axisWeek" : "axisDay");
  const firstCol = t(weekly ? "colWeek" : "colDay");
  const file = (name) => `usage-${name}-${report.from}-${report.to}.csv`;
  const perPeriod = (series) => starts.map((_, i) => sum(series.map((s) => s.values[i])));
  const common = { labels, xLabel, formatY: number };
  const specs = [];

  const byAssistant = messagesByAssistant(report);
  const messageSeries = ASSISTANTS.map((key, k) => ({
    key, name: t(key), values: byAssistant[key], color: COLORS[key], dash: k ? "6 4" : null, marker: k ? "square" : "circle",
  }));
  specs.push({
    key: "messages", title: t("chartMessages"),
    legend: messageSeries.map((s, k) => ({ name: s.name, color: s.color, style: k ? "dash" : "line" })),
    draw: (size) => lineChart({ ...common, ...size, series: messageSeries, yLabel: t("axisMessages") }),
    head: [firstCol, ...messageSeries.map((s) => s.name), t("colTotal")],
    rows: starts.map((_, i) => [rowLabels[i], ...messageSeries.map((s) => s.values[i]), sum(messageSeries.map((s) => s.values[i]))]),
    foot: [t("colTotal"), ...messageSeries.map((s) => sum(s.values)), sum(messageSeries.map((s) => sum(s.values)))],
    csv: [[firstCol, ...messageSeries.map((s) => s.name), t("colTotal")],
      ...starts.map((start, i) => [start, ...messageSeries.map((s) => s.values[i]), sum(messageSeries.map((s) => s.values[i]))])],
    summary: summary(t("chartMessages"), labels, perPeriod(messageSeries)), filename: file("messages"),
  });

  // Where replies were thought through, the completion tokens split into the answer's and the
  // thinking's (they add up to the same total).
  const thinking = column(report, "thinkingTokens");
  const completion = column(report, "completionTokens");
  const tokenSeries = thinking.some((n) => n > 0)
    ? [
      { key: "prompt", name: t("promptTokens"), values: column(report, "promptTokens"), color: COLORS.blue },
      { key: "answer", name: t("answerTokens"), values: completion.map((n, i) => n - thinking[i]), color: COLORS.sand, pattern: "hatch" },
      { key: "thinking", name: t("thinkingTokens"), values: thinking, color: COLORS.gold },
    ]
    : [
      { key: "prompt", name: t("promptTokens"), values: column(report, "promptTokens"), color: COLORS.blue },
      { key: "completion", name: t("completionTokens"), values: completion, color: COLORS.sand, pattern: "hatch" },
    ];
  const tokens = column(report, "tokens");
  specs.push({
    key: "tokens", title: t("chartTokens"),
    legend: tokenSeries.map((s) => ({ name: s.name, color: s.color, style: s.pattern ?? "box" })),
    draw: (size) => barChart({ ...common, ...size, series: tokenSeries, stacked: true, yLabel: t("axisTokens") }),
    head: [firstCol, ...tokenSeries.map((s) => s.name), t("colTotal")],
    rows: starts.map((_, i) => [rowLabels[i], ...tokenSeries.map((s) => s.values[i]), tokens[i]]),
    foot: [t("colTotal"), ...tokenSeries.map((s) => sum(s.values)), report.totals.tokens],
    csv: [[firstCol, ...tokenSeries.map((s) => s.name), t("colTotal")],
      ...starts.map((start, i) => [start, ...tokenSeries.map((s) => s.values[i]), tokens[i]])],
    summary: summary(t("chartTokens"), labels, tokens), filename: file("tokens"),
  });

  const userSeries = [
    { key: "activeUsers", name: t("usageActiveUsers"), values: column(report, "activeUsers"), color: COLORS.blue, marker: "circle" },
    { key: "registrations", name: t("usageRegistrations"), values: column(report, "registrations"), color: COLORS.gold, dash: "6 4", marker: "square" },
  ];
  specs.push({
    key: "users", title: t("chartUsers"),
    legend: userSeries.map((s, k) => ({ name: s.name, color: s.color, style: k ? "dash" : "line" })),
    draw: (size) => lineChart({ ...common, ...size, series: userSeries, yLabel: t("axisUsers") }),
    head: [firstCol, ...userSeries.map((s) => s.name)],
    rows: starts.map((_, i) => [rowLabels[i], ...userSeries.map((s) => s.values[i])]),
    // Active users of the whole period are people, not a sum of the periods' counts.
    foot: [t("colTotal"), report.totals.activeUsers, report.totals.registrations],
    csv: [[firstCol, ...userSeries.map((s) => s.name)], ...starts.map((start, i) => [start, ...userSeries.map((s) => s.values[i])])],
    summary: summary(t("chartUsers"), labels, userSeries[0].values), filename: file("users"),
  });

  const problemSeries = [
    { key: "stopped", name: t("usageStopped"), values: column(report, "stopped"), color: COLORS.gold, pattern: "hatch" },
    { key: "modelErrors", name: t("usageModelErrors"), values: column(report, "modelErrors"), color: COLORS.oracle },
  ];
  specs.push({
    key: "problems", title: t("chartProblems"),
    legend: problemSeries.map((s) => ({ name: s.name, color: s.color, style: s.pattern ?? "box" })),
    draw: (size) => barChart({ ...common, ...size, series: problemSeries, yLabel: t("axisReplies") }),
    head: [firstCol, ...problemSeries.map((s) => s.name)],
    rows: starts.map((_, i) => [rowLabels[i], ...problemSeries.map((s) => s.values[i])]),
    foot: [t("colTotal"), report.totals.stopped, report.totals.modelErrors],
    csv: [[firstCol, ...problemSeries.map((s) => s.name)], ...starts.map((start, i) => [start, ...problemSeries.map((s) => s.values[i])])],
    summary: summary(t("chartProblems"), labels, perPeriod(problemSeries)), filename: file("problems"),
  });

  const shares = feedbackShares(report);
  const ratingText = (row) => (row.share === null ? t("noRatings")
    : t("ratingLine", { share: percent(row.share), up: number(row.up), down: number(row.down) }));
  specs.push({
    key: "feedback", title: t("chartFeedback"), legend: null,
    draw: (size) => shareBars({
      ...size, formatShare: percent, axisLabel: t("axisShare"),
      items: shares.map((row) => ({ key: row.assistant, label: t(row.assistant), share: row.share, text: ratingText(row), color: COLORS[row.assistant] ?? COLORS.blue })),
    }),
    head: [t("colAssistant"), t("colUp"), t("colDown"), t("colShare")],
    rows: shares.map((row) => [t(row.assistant), row.up, row.down, row.share === null ? "—" : percent(row.share)]),
    foot: null,
    csv: [[t("colAssistant"), t("colUp"), t("colDown"), t("colShare")],
      ...shares.map((row) => [row.assistant, row.up, row.down, row.share === null ? "" : Math.round(row.share * 10000) / 10000])],
    summary: t("feedbackSummary", { title: t("chartFeedback"), items: shares.map((row) => `${t(row.assistant)} ${ratingText(row)}`).join("; ") }),
    filename: file("feedback"),
  });
  return specs.map(figure);
}

function totalsList(report) {
  return h("dl.usage-totals", {}, TOTALS.map(([key, label]) => h("div.usage-total", { dataset: { total: key } },
    h("dt", {}, t(label)), h("dd", { dataset: { value: String(report.totals[key] ?? 0) } }, number(report.totals[key] ?? 0)))));
}

function topUsers(app, report, reload) {
  const title = t("topUsers");
  const rows = report.topUsers.map((user) => {
    const me = user.userId === app.user?.id;
    const banned = Boolean(user.bannedAt);
    const label = (name) => ({ dataset: { label: name } });
    return h("tr", { dataset: { userId: user.userId, email: user.email }, class: banned ? "is-banned" : null },
      h("td", label(t("email")), h("span.email", {}, user.email), me ? h("span.muted", {}, t("you_")) : null),
      h("td.num", { ...label(t("usageTokens")), dataset: { label: t("usageTokens"), value: String(user.tokens) } }, number(user.tokens)),
      h("td.num", { dataset: { label: t("usageMessages"), value: String(user.messages) } }, number(user.messages)),
      h("td", label(t("status")), h(`span.status-pill.${banned ? "banned" : "active"}`, {}, t(banned ? "banned" : "active"))),
      h("td", label(t("actions")), me ? h("span.muted", {}, "—") : h(`button.button.small.${banned ? "ghost.unban" : "danger-ghost.ban"}`, {
        type: "button", "aria-label": `${t(banned ? "unban" : "ban")}: ${user.email}`, onclick: () => toggleBan(user.userId, user, reload),
      }, t(banned ? "unban" : "ban"))));
  });
  const csvRows = [[t("email"), t("usageTokens"), t("usageMessages"), t("banned")],
    ...report.topUsers.map((user) => [user.email, user.tokens, user.messages, user.bannedAt ?? ""])];
  return h("section.usage-top", { "aria-labelledby": "usage-top-title" },
    h("div.chart-head", {}, h("h3.chart-title", { id: "usage-top-title" }, title),
      report.topUsers.length ? h("button.button.ghost.small.download-csv", {
        type: "button", dataset: { csv: "top-users" }, "aria-label": `${t("downloadCsv")}: ${title}`,
        onclick: () => toast(t("csvSaved", { file: downloadCsv(`usage-top-users-${report.from}-${report.to}.csv`, csvRows).filename })),
      }, icon("download", 15), h("span", {}, t("downloadCsv"))) : null),
    rows.length
      ? h("div.table-wrap", {}, h("table.data.top-users", {},
        h("thead", {}, h("tr", {}, [t("email"), t("usageTokens"), t("usageMessages"), t("status"), t("actions")].map((name, i) =>
          h("th", { scope: "col", class: i === 1 || i === 2 ? "num" : null }, name)))),
        h("tbody", {}, rows)))
      : h("p.table-empty", {}, t("topUsersEmpty")));
}

export function usagePanel(app) {
  const span = h("p.panel-summary.usage-span");
  const body = h("div.panel-body.usage-body");
  let request = 0;
  let shown = [];

  const choices = Object.keys(RANGES).map((key) => h("label.range-choice", {},
    h("input", {
      type: "radio", name: "usage-range", value: key, checked: memory.range === key,
      onchange: () => {
        memory.range = key;
        load();
      },
    }),
    h("span", {}, t(RANGE_LABELS[key]))));
  const controls = h("fieldset.usage-range", {}, h("legend", {}, t("usageRange")), h("div.range-choices", {}, choices));

  async function load() {
    const mine = ++request;
    const query = usageQuery(memory.range);
    body.setAttribute("aria-busy", "true");
    if (!body.firstChild) body.replaceChildren(h("div.loading", { role: "status" }, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot")));
    try {
      const report = await api.getUsage(query);
      if (mine !== request) return; // a newer period was chosen meanwhile
      paint(report);
    } catch (error) {
      if (mine !== request || error.status === 401) return;
      body.replaceChildren(h("div.panel-error", { role: "alert" }, errorText(error), " ",
        h("button.button.ghost.small", { type: "button", onclick: load }, icon("retry", 14), t("retry"))));
    } finally {
      if (mine === request) body.removeAttribute("aria-busy");
    }
  }

  function paint(report) {
    span.textContent = t("usageSpan", {
      from: longDay(report.from), to: longDay(report.to),
      bucket: t(report.bucket === "week" ? "bucketWeek" : "bucketDay"), offset: offsetName(report.utcOffsetMinutes),
    });
    body.dataset.from = report.from;
    body.dataset.to = report.to;
    body.dataset.bucket = report.bucket;
    shown = charts(report);
    body.replaceChildren(
      h("section.usage-summary", { "aria-label": t("usageTotals") }, totalsList(report)),
      h("div.chart-grid", {}, shown),
      topUsers(app, report, load));
    shown.forEach((one) => one.draw());
  }

  // Drawn again at the width they get (a phone turned, a window resized).
  const observer = new ResizeObserver(() => {
    if (!body.isConnected) {
      observer.disconnect();
      return;
    }
    shown.forEach((one) => one.draw());
  });
  observer.observe(body);
  load();
  return h("div.panel.usage", {}, h("p.panel-lead", {}, t("usageLead")), controls, span, body);
}
