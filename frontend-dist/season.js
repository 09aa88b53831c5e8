// The season in the TCM adviser's chat header: the current solar term (节气) from
// GET /api/chat/season (computed on the server from the sun's longitude), since when in the
// reader's time zone, and a short seasonal note of ours in the reader's language.
import * as api from "./api.js";
import { h } from "./dom.js";
import { lang } from "./i18n.js";

/** A line of wellness guidance per term, ours: general seasonal care, not medical advice. */
export const NOTES = {
  冬至: { zh: "阴极阳生，早睡晚起，护阳保暖。", en: "Yin at its height, yang returning: sleep early, rise late, keep warm." },
  小寒: { zh: "寒气渐深，注意头颈与足部保暖。", en: "The cold deepens: keep the head, neck and feet warm." },
  大寒: { zh: "一年最冷之时，饮食宜温，少食生冷。", en: "The coldest time: favour warm food, little that is raw or iced." },
  立春: { zh: "春气始生，舒展情志，宜早起散步。", en: "Spring stirs: ease the mind, rise early, walk." },
  雨水: { zh: "湿气渐增，调养脾胃，少食油腻。", en: "Damp rises: care for digestion, go easy on greasy food." },
  惊蛰: { zh: "春雷始动，宜清淡饮食，适度活动。", en: "Spring thunder: eat lightly and move a little more." },
  春分: { zh: "阴阳平分，起居有常，饮食有节。", en: "Day and night in balance: keep regular hours and moderate meals." },
  清明: { zh: "天清气明，宜踏青舒展，调畅情绪。", en: "Clear and bright: go outdoors, stretch, let moods settle." },
  谷雨: { zh: "雨多湿重，宜健脾祛湿，勿久坐湿地。", en: "Rain and damp: support digestion, avoid sitting long in the damp." },
  立夏: { zh: "夏气始至，养心安神，午间小憩。", en: "Summer begins: calm the heart, take a short midday rest." },
  小满: { zh: "暑湿渐起，饮食宜清淡，防湿热。", en: "Warm and humid: light meals, watch for damp heat." },
  芒种: { zh: "气温升高，勤补水，避免暴晒。", en: "Rising heat: drink often, avoid the strongest sun." },
  夏至: { zh: "阳极阴生，晚睡早起，静心少躁。", en: "Yang at its height: sleep later, rise early, stay calm." },
  小暑: { zh: "暑热渐盛，防暑降温，饮食勿过凉。", en: "Growing heat: stay cool, but not with too much iced food." },
  大暑: { zh: "一年最热之时，清热解暑，注意休息。", en: "The hottest time: clear the heat and rest well." },
  立秋: { zh: "秋气始至，渐收心神，少辛多酸。", en: "Autumn begins: gather in, fewer pungent, more sour flavours." },
  处暑: { zh: "暑气渐退，早晚添衣，润燥养肺。", en: "Heat recedes: add a layer mornings and evenings, keep the lungs moist." },
  白露: { zh: "昼夜温差大，注意腹部与足部保暖。", en: "Cool nights: keep the belly and feet warm." },
  秋分: { zh: "阴阳相半，润肺防燥，情绪宜平和。", en: "Balance again: moisten against dryness, keep an even mood." },
  寒露: { zh: "寒气渐生，宜养阴润燥，勿受凉。", en: "Cold dew: nourish yin against dryness, don't get chilled." },
  霜降: { zh: "秋末转冬，饮食宜温润，保护脾胃。", en: "Late autumn: warm, moist food that is kind to digestion." },
  立冬: { zh: "冬气始至，早睡晚起，敛阴护阳。", en: "Winter begins: sleep early, rise late, conserve." },
  小雪: { zh: "天寒少阳，多晒太阳，调畅情志。", en: "Short days: seek sunlight and keep spirits up." },
  大雪: { zh: "寒冷渐盛，温补适度，注意保暖。", en: "Deepening cold: warming food in moderation, dress warmly." },
};

/** The header line for `season` (`{current, next}`), or null without one. */
export function seasonLine(season) {
  const term = season?.current;
  if (!term) return null;
  const zh = lang() === "zh";
  const since = new Date(term.startsAt).toLocaleDateString(zh ? "zh-CN" : "en", { month: "short", day: "numeric" });
  const note = NOTES[term.name]?.[zh ? "zh" : "en"] ?? "";
  const name = zh ? term.name : `${term.name} · ${term.english}`;
  return h("p.season-line", { title: zh ? `节气 · ${since}起` : `Solar term since ${since}` },
    h("span.season-name", {}, zh ? `节气：${name}` : `Solar term: ${name}`),
    h("span.season-since", {}, zh ? `（${since}起）` : ` (since ${since})`),
    note ? h("span.season-note", {}, ` ${note}`) : null);
}

let season = null;

/** GET /api/chat/season once per page; null when it failed. */
export async function loadSeason() {
  season ??= api.getSeason().catch(() => null);
  return season;
}
