#!/usr/bin/env python3
"""Makes src/report/fonts/WenQuanYiMicroHei-CJK-subset.ttf, the CJK font the PNG charts fall
back to for characters DejaVu Sans lacks.

Source: WenQuanYi Micro Hei 0.2.0-beta (Debian's fonts-wqy-microhei,
/usr/share/fonts/truetype/wqy/wqy-microhei.ttc, face 0), Apache-2.0 (or GPL-3+ with the font
exception; kubesim takes it under Apache-2.0, see LICENSE-WenQuanYi in this folder).

Characters kept (4,276, reproducible from Python's own codecs, no list to download):
  - GB 2312 level 1: the 3,755 most common simplified hanzi (rows 16-55, 0xB0A1-0xD7F9),
    which cover 99.7% of modern Chinese text;
  - GB 2312's non-hanzi rows 1-9 from U+2E80 on: CJK punctuation, kana, full-width forms;
  - U+3000-U+303F (CJK punctuation) and U+FF00-U+FFEF (full-width and half-width forms).
  DejaVu Sans draws everything below U+2E80. The result is 735 KB (395 KB compressed, as git
  stores it); GB 2312 level 2 (3,008 rarer hanzi) would add about 500 KB.
Hints are dropped (the charts are drawn antialiased); glyph names dropped.

Run: pip install fonttools; python3 src/report/fonts/subset-cjk.py
"""
import os
from fontTools import subset
from fontTools.ttLib import TTCollection

SRC = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "WenQuanYiMicroHei-CJK-subset.ttf")
LEVEL2 = 0  # level 2 left out: 2,000 more would add 300 KB


def gb2312(rows):
    for row in rows:
        for col in range(0xA1, 0xFF):
            try:
                ch = bytes([row + 0xA0, col]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            yield ch


def main():
    chars = set(gb2312(range(1, 10)))
    chars.update(gb2312(range(16, 56)))
    level2 = [c for c in gb2312(range(56, 88))][:LEVEL2]
    chars.update(level2)
    chars.update(chr(c) for c in range(0x3000, 0x3040))
    chars.update(chr(c) for c in range(0xFF00, 0xFFF0))
    chars = {c for c in chars if ord(c) > 0x2E7F}  # CJK and beyond: DejaVu draws the rest
    font = TTCollection(SRC).fonts[0]
    opts = subset.Options()
    opts.hinting = False
    opts.glyph_names = False
    opts.name_IDs = ["*"]
    opts.layout_features = []
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in sorted(chars)])
    sub.subset(font)
    font.save(OUT)
    print(f"{len(chars)} characters, {os.path.getsize(OUT)} bytes -> {OUT}")


if __name__ == "__main__":
    main()
