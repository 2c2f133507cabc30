"""A tiny parallel corpus of our own, in the Multi30k file layout.

Built combinatorially from a few words so tests can train BPE, train a model
and run evaluations without the real corpus (which is never committed).
"""

import gzip
import itertools

SUBJECTS = [("Ein Hund", "A dog"), ("Eine Katze", "A cat"),
            ("Ein Kind", "A child"), ("Ein Mann", "A man"),
            ("Eine Frau", "A woman")]
VERBS = [("läuft", "runs"), ("schläft", "sleeps"), ("spielt", "plays"),
         ("wartet", "waits")]
PLACES = [("im Park", "in the park"), ("am Strand", "on the beach"),
          ("zu Hause", "at home")]


def pairs():
    for (sd, se), (vd, ve), (pd, pe) in itertools.product(SUBJECTS, VERBS, PLACES):
        yield f"{sd} {vd} {pd}.", f"{se} {ve} {pe}."


def write_corpus(folder, src="de", tgt="en"):
    """Write train/val/test_2016_flickr .de.gz/.en.gz files; returns folder."""
    folder.mkdir(parents=True, exist_ok=True)
    allp = list(pairs())
    splits = {"train": allp, "val": allp[::6], "test_2016_flickr": allp[1::6]}
    for split, ps in splits.items():
        for lang, side in ((src, 0), (tgt, 1)):
            with gzip.open(folder / f"{split}.{lang}.gz", "wt", encoding="utf-8") as fh:
                fh.writelines(p[side] + "\n" for p in ps)
    return folder
