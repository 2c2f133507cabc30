"""Dump 5-best lists, with every score's float32 bits, for the shipped
de-en model in several precisions and kernels, one sentence at a time and
in batches of 16: run it on two commits and compare the files to show that
a change (a restructuring, a new kernel, a new dispatch) left every
translation and score bit-identical.

    PYTHONPATH=OLD python tools/nbest_dump.py old.json
    PYTHONPATH=NEW python tools/nbest_dump.py new.json
    python tools/nbest_dump.py --compare old.json new.json

The sentences are our own (nmt8.testing), never the corpus's.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys

SYSTEMS = [("fp32", "numpy"), ("fp32", "auto"), ("int8", "auto"),
           ("int8", "ref"), ("int4", "auto")]


def dump(path: str) -> None:
    import nmt8
    from nmt8.testing import PAIRS, grammar_pairs

    sents = [de for de, _ in PAIRS] + [de for de, _ in grammar_pairs()][:60]
    out = {}
    for prec, kern in SYSTEMS:
        t = nmt8.Translator("de-en", precision=prec, kernel=kern)
        out[f"{prec}:{kern}"] = [
            [(h, struct.pack("<f", sc).hex()) for h, sc in t.nbest(s, 5)]
            for s in sents]
        out[f"{prec}:{kern}:batch16"] = t.translate(sents[:48], batch_size=16)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f)
    print(f"{len(sents)} sentences, {len(out)} systems -> {path}")


def compare(a_path: str, b_path: str) -> int:
    with open(a_path, encoding="utf-8") as f:
        a = json.load(f)
    with open(b_path, encoding="utf-8") as f:
        b = json.load(f)
    bad = 0
    for k in sorted(a.keys() | b.keys()):
        n = (sum(x != y for x, y in zip(a[k], b[k]))
             if k in a and k in b else None)
        bad += n != 0
        print(f"{k}: " + ("missing in one file" if n is None else
                          "identical" if n == 0 else f"{n} sentences differ"))
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", help="where to write the dump")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"),
                    help="compare two dumps; exit 1 if any system differs")
    a = ap.parse_args(argv)
    if a.compare:
        return compare(*a.compare)
    if not a.out:
        ap.error("give OUT, or --compare A B")
    dump(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
