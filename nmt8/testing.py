"""Fixtures shared by the tests and the notebooks: our own sentences and toys.

nmt8 never ships corpus text. Every example sentence in the code, tests,
notebooks and docs comes from here, written by us, German with an English
reference:

* :data:`PAIRS` - the one list of our own (German, English) sentences; the
  golden-value check of the export (:data:`GOLDEN_PAIRS`), ``nmt8 demo``
  (:data:`DEMO_SENTENCES`), the tests (:data:`GERMAN`) and the course's
  notebooks (:data:`COURSE_PAIRS`) each read a slice of it;
* :func:`grammar_pairs` - a small combinatorial corpus (5 subjects x 4 verbs x
  3 places) that a model can actually learn in a test;
* :func:`write_multi30k` - sentence pairs written in the Multi30k file layout
  (``split.lang.gz``), so BPE, training, evaluation and ``nmt8 reproduce``
  run without the real corpus;
* :func:`toy_model` - a tiny random model with BPE models trained on our
  sentences: nonsense translations, every code path.

Does not: read the corpus (``nmt8.data``) or time anything (``nmt8.lab``).
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

# Our own German -> English pairs, in blocks by first use. The blocks are
# fixed: the export's golden values and the demo's output depend on them.
PAIRS = [
    # the golden-value check of the export (nmt8.train) and the first examples
    ("Ein Hund läuft über eine grüne Wiese.",
     "A dog runs across a green meadow."),
    ("Zwei Kinder spielen am Strand mit einem roten Ball.",
     "Two children play with a red ball on the beach."),
    ("Eine Frau in einem blauen Kleid liest ein Buch.",
     "A woman in a blue dress is reading a book."),
    ("Der alte Mann verkauft Obst auf dem Markt.",
     "The old man sells fruit at the market."),
    ("Ein Radfahrer fährt bei Regen durch die Stadt.",
     "A cyclist rides through the city in the rain."),
    # the demo (nmt8 demo)
    ("Ein kleiner Junge spielt mit seinem Hund im Garten.",
     "A little boy plays with his dog in the garden."),
    ("Zwei Frauen sitzen auf einer Bank und trinken Kaffee.",
     "Two women sit on a bench drinking coffee."),
    ("Ein Mann in einer roten Jacke fährt mit dem Fahrrad durch den Park.",
     "A man in a red jacket rides his bicycle through the park."),
    ("Die Kinder laufen lachend über den nassen Sand am Meer.",
     "The children run laughing across the wet sand by the sea."),
    # the unit tests
    ("Ein Hund schläft neben dem Ofen.",
     "A dog sleeps next to the stove."),
    ("Drei Musiker spielen auf einer Straße in der Altstadt.",
     "Three musicians play on a street in the old town."),
    ("Eine Katze beobachtet die Vögel im Baum.",
     "A cat watches the birds in the tree."),
    # the course's notebooks
    ("Ein kleiner Junge füttert die Enten am Teich.",
     "A little boy is feeding the ducks at the pond."),
    ("Zwei Frauen tragen schwere Einkaufstaschen nach Hause.",
     "Two women are carrying heavy shopping bags home."),
    ("Ein Mann mit einem roten Hut repariert ein altes Fahrrad.",
     "A man with a red hat is repairing an old bicycle."),
    ("Die Kinder bauen am Strand eine große Sandburg.",
     "The children are building a big sandcastle on the beach."),
    ("Ein brauner Hund springt über einen umgestürzten Baum.",
     "A brown dog jumps over a fallen tree."),
    ("Eine ältere Frau sitzt auf einer Parkbank und liest Zeitung.",
     "An elderly woman sits on a park bench reading the newspaper."),
    ("Drei Arbeiter streichen das Geländer einer Brücke grün an.",
     "Three workers are painting the railing of a bridge green."),
    ("Ein Mädchen in einem gelben Regenmantel springt in eine Pfütze.",
     "A girl in a yellow raincoat jumps into a puddle."),
    ("Ein Koch schneidet Gemüse in einer kleinen Küche.",
     "A cook is cutting vegetables in a small kitchen."),
    ("Zwei Jungen spielen Fußball auf einer staubigen Straße.",
     "Two boys are playing soccer on a dusty street."),
    ("Eine Gruppe von Touristen fotografiert einen alten Turm.",
     "A group of tourists is photographing an old tower."),
    ("Ein Mann in einem blauen Hemd fährt mit dem Boot über den See.",
     "A man in a blue shirt is crossing the lake by boat."),
]

GOLDEN_PAIRS = PAIRS[0:5]  # the export writes golden log-probs of these
DEMO_SENTENCES = [de for de, _ in PAIRS[5:9]]  # nmt8 demo translates these
DEMO_ENGLISH = [en for _, en in PAIRS[5:9]]  # ... and these, into German
GERMAN = [de for de, _ in PAIRS[9:12]]  # the unit tests translate these
COURSE_PAIRS = PAIRS[12:]  # the notebooks' examples (chapters 4, 8, 9, 11)


# -- a corpus a test can learn --------------------------------------------------
SUBJECTS = [("Ein Hund", "A dog"), ("Eine Katze", "A cat"),
            ("Ein Kind", "A child"), ("Ein Mann", "A man"),
            ("Eine Frau", "A woman")]
VERBS = [("läuft", "runs"), ("schläft", "sleeps"), ("spielt", "plays"),
         ("wartet", "waits")]
PLACES = [("im Park", "in the park"), ("am Strand", "on the beach"),
          ("zu Hause", "at home")]


def grammar_pairs() -> list[tuple[str, str]]:
    """Every subject x verb x place sentence (60 pairs), in a fixed order."""
    return [(f"{sd} {vd} {pd}.", f"{se} {ve} {pe}.")
            for (sd, se), (vd, ve), (pd, pe)
            in itertools.product(SUBJECTS, VERBS, PLACES)]


def grammar_splits() -> dict[str, list[tuple[str, str]]]:
    """train: all of :func:`grammar_pairs`; val and test: every sixth."""
    allp = grammar_pairs()
    return {"train": allp, "val": allp[::6], "test_2016_flickr": allp[1::6]}


def write_multi30k(folder, splits: dict | None = None, src: str = "de",
                   tgt: str = "en") -> Path:
    """Write ``{split: [(German, English), ...]}`` as Multi30k files.

    Each split becomes ``split.src.gz`` (the first sentence of every pair)
    and ``split.tgt.gz`` (the second), one sentence a line, as
    ``nmt8.data`` reads them. splits: default :func:`grammar_splits`.
    Returns the folder.
    """
    splits = grammar_splits() if splits is None else splits
    if not isinstance(splits, dict):
        raise TypeError("splits must be a dict {split name: [(src, tgt), ...]}, "
                        f"got {type(splits).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, pairs in splits.items():
        for lang, side in ((src, 0), (tgt, 1)):
            with gzip.open(folder / f"{split}.{lang}.gz", "wt",
                           encoding="utf-8") as fh:
                fh.writelines(p[side] + "\n" for p in pairs)
    return folder


# -- a model that reads and writes text -----------------------------------------
def toy_model(folder, pairs=None, vocab_size: int = 60, emb: int = 8,
              hidden: int = 8, seed: int = 0):
    """A tiny random model that reads and writes text.

    Trains two small BPE models on ``pairs`` (German, English; default
    :data:`GOLDEN_PAIRS`) into ``folder`` and returns a random model with
    matching vocabularies whose ``path`` points there. Its translations are
    nonsense; every code path runs.
    """
    from nmt8.model.model import random_model
    from nmt8.serve.text import train_bpe

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = list(pairs or GOLDEN_PAIRS)
    src = train_bpe([p[0] for p in pairs], folder / "bpe.de", vocab_size)
    tgt = train_bpe([p[1] for p in pairs], folder / "bpe.en", vocab_size)
    m = random_model(emb, hidden, len(src), len(tgt), seed=seed)
    m.cfg.bpe_models = ["bpe.de.model", "bpe.en.model"]
    m.path = folder / "model.npz"
    return m
