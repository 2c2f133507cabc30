"""Fixtures shared by the tests and the notebooks: our own sentences.

nmt8 never ships corpus text. Every example sentence in the code, tests,
notebooks and docs comes from here: written by us, German with an English
reference where one is needed.

Does not: read the corpus (``nmt8.data``) or time anything (``nmt8.lab``).
"""

from __future__ import annotations

# German -> English pairs of our own: the golden-value check of the export
# (``nmt8.train``) and the first examples of the course.
GOLDEN_PAIRS = [
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
]

# German sentences of our own for the demo (``nmt8 demo``).
DEMO_SENTENCES = [
    "Ein kleiner Junge spielt mit seinem Hund im Garten.",
    "Zwei Frauen sitzen auf einer Bank und trinken Kaffee.",
    "Ein Mann in einer roten Jacke fährt mit dem Fahrrad durch den Park.",
    "Die Kinder laufen lachend über den nassen Sand am Meer.",
]
