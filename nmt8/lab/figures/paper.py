"""The paper's own figures, Tables 1-9 of Quinn & Ballesteros (2018), as data.

These are THEIR numbers: their C++/Eigen decoder, their Intel Xeon hardware
(a 20-core Xeon 2690v2 for the SMT baselines of Section 3), their news-domain
models of Table 4 (620-dim embeddings, 1000-dim states, 33k-64k vocabularies)
and test sets. ``nmt8.lab.reproduce.run`` prints them next to ours under
:data:`LABEL`; no figure here was measured by nmt8.

Does not: measure anything (``nmt8.lab.speed.measure``).
"""

from __future__ import annotations

CITATION = ("Jerry Quinn and Miguel Ballesteros. 2018. Pieces of Eight: 8-bit "
            "Neural Machine Translation. In Proceedings of NAACL-HLT 2018 "
            "(Industry Papers).")
LABEL = "Quinn & Ballesteros 2018, their hardware/models"

# Table 1: profile before 8-bit conversion (share of time, percent)
TABLE1 = {
    "Eigen matrix vector product": 50.77,
    "Eigen matrix multiply": 35.02,
    "NMT decoder layer": 1.95,
    "Eigen fast tanh": 1.68,
    "NMT tanh wrapper": 1.35,
}

# Table 2: profile after 8-bit conversion (one routine for both product shapes)
TABLE2 = {
    "8-bit matrix multiply": 69.54,
    "Eigen fast tanh": 6.37,
    "NMT decoder layer": 2.06,
    "NMT tanh wrapper": 0.95,
}

# Tables 1 and 2 under nmt8's timer categories, (32-bit %, 8-bit %); tanh is
# "Eigen fast tanh" + "NMT tanh wrapper"; the rest of their profile is unlisted
PROFILE_BY_CATEGORY = {
    "product fp32 (matrix-vector)": (50.77, None),
    "product fp32 (matrix-matrix)": (35.02, None),
    "product int8": (None, 69.54),
    "tanh": (round(1.68 + 1.35, 2), round(6.37 + 0.95, 2)),
}

# Table 3: running speed, words per core second (Section 3: 131 and 646 WPS)
TABLE3 = {"Phrase-based": 170.0, "Syntax-based": 21.5, "NMT 32-bit": 6.5,
          "NMT 8-bit": 32.3}
TABLE3_WPS = {"Phrase-based": 3400.0, "Syntax-based": 430.0, "NMT 32-bit": 131.0,
              "NMT 8-bit": 646.0}

# Tables 4 and 5, one row per language pair: training sentences and source
# and target vocabulary sizes (Table 4); test sentences and average sentence
# lengths in words (Table 5)
_TABLE4_KEYS = ("lang", "train", "src_vocab", "tgt_vocab")
_TABLE5_KEYS = ("lang", "sentences", "src_len", "tgt_len")
_PAIRS = [  # lang, Table 4: train, src_vocab, tgt_vocab; Table 5: the rest
    ("En-Nl", "17M", 42112, 33658, 990, 22.5, 25.9),
    ("Nl-En", "17M", 33658, 42212, 990, 25.9, 22.5),
    ("Ru-En", "31M", 42388, 42840, 555, 27.2, 35.2),
    ("En-De", "31M", 57867, 63644, 168, 51.8, 46.0),
    ("De-En", "31M", 63644, 57867, 168, 46.0, 51.8),
]
TABLE4 = [dict(zip(_TABLE4_KEYS, row[:4])) for row in _PAIRS]
TABLE5 = [dict(zip(_TABLE5_KEYS, (row[0], *row[4:]))) for row in _PAIRS]
MODEL_SIZE = {"dim_word": 620, "dim": 1000}  # "All models have 620 ... 1000"

# Table 6: BLEU and speed (WPCS, median of 9 runs), 32-bit vs 8-bit
_TABLE6 = [  # lang, 32-bit BLEU, 32-bit WPCS, 8-bit BLEU, 8-bit WPCS
    ("En-Nl", 31.2, 12.6, 31.2, 58.9),
    ("Nl-En", 36.1, 10.3, 36.3, 45.8),
    ("Ru-En", 24.5, 8.9, 24.3, 51.4),
    ("De-En", 32.6, 7.3, 32.2, 37.5),
    ("En-De 2x", 30.5, 7.1, 30.6, 33.7),
    ("En-De 1x", 29.7, 15.9, 29.7, 71.3),
]
TABLE6 = [{"lang": lang, "mode": mode, "bleu": bleu, "wpcs": wpcs}
          for lang, *cols in _TABLE6
          for mode, bleu, wpcs in (("32-bit", *cols[:2]), ("8-bit", *cols[2:]))]

# Table 7: human evaluation, 0-5 scale, 100 sentences (not reproducible here)
TABLE7 = [
    {"lang": "En-Nl", "32-bit": 4.02, "8-bit": 4.08},
    {"lang": "Nl-En", "32-bit": 4.03, "8-bit": 4.03},
    {"lang": "Ru-En", "32-bit": 4.10, "8-bit": 4.06},
    {"lang": "En-De 2x", "32-bit": 4.05, "8-bit": 4.16},
    {"lang": "En-De 1x", "32-bit": 3.84, "8-bit": 3.90},
]

# Tables 8 and 9: their example rows, news sentences decoded by their 32-bit
# and 8-bit systems, with each sentence's time (ms, "average of 10 runs").
# Text as printed, without their boldface (nmt8.lab.outputs.diff.word_diff marks the
# differences again); the paper's own typos ("predictated") kept.
TABLE8 = [  # De-En
    {"source": "Sie standen seit 1946 an der Parteispitze",
     "32-bit": "They had been at the party leadership since 1946",
     "8-bit": "They stood at the top of the party since 1946.",
     "ms": (720, 180)},
    {"source": "So erwarten die Experten für dieses Jahr lediglich einen "
               "Anstieg der Weltproduktion von 3,7 statt der im Juni "
               "prognostizierten 3,9 Prozent. Für 2009 sagt das Kieler "
               "Institut sogar eine Abschwächung auf 3,3 statt 3,7 Prozent "
               "voraus.",
     "32-bit": "For this year, the experts expect only an increase in world "
               "production of 3.7 instead of the 3.9 percent forecast in June. "
               "In 2009, the Kiel Institute predictated a slowdown to 3.3 "
               "percent instead of 3.7 percent .",
     "8-bit": "For this year, the experts expect only an increase in world "
              "production of 3.7 instead of the 3.9 percent forecast in June. "
              "In 2009, the Kiel Institute even forecast a slowdown to 3.3% "
              "instead of 3.7 per cent.",
     "ms": (4440, 750)},
    {"source": 'Heftige Regenfälle wegen "Ike" werden möglicherweise '
               "schwerere Schäden anrichten als seine Windböen. Besonders "
               "gefährdet sind dicht besiedelte Gebiete im Tal des Rio Grande, "
               'die noch immer unter den Folgen des Hurrikans "Dolly" im Juli '
               "leiden.",
     "32-bit": 'Heavy rainfall due to "Ike" may cause more severe damage than '
               "its gusts of wind, particularly in densely populated areas in "
               "the Rio Grande valley, which are still suffering from the "
               'consequences of the "dolly" hurricane in July.',
     "8-bit": 'Heavy rainfall due to "Ike" may cause heavier damage than its '
              "gusts of wind, particularly in densely populated areas in the "
              "Rio Grande valley, which still suffer from the consequences of "
              'the "dolly" hurricane in July.',
     "ms": (6150, 1050)},
]
TABLE9 = [  # Nl-En
    {"source": "Het is tijd om de kloof te overbruggen.",
     "32-bit": "It's time to bridge the gap.",
     "8-bit": "It is time to bridge the gap.",
     "ms": (730, 180)},
    {"source": "Niet dat Barientos met zijn vader van plaats zou willen "
               "wisselen.",
     "32-bit": "Not that Barientos would want to change his father's place.",
     "8-bit": "Not that Barientos would like to switch places with his father.",
     "ms": (1120, 290)},
]
# the times alone, (32-bit ms, 8-bit ms) per row
TABLE8_TIMES_MS = [r["ms"] for r in TABLE8]  # De-En
TABLE9_TIMES_MS = [r["ms"] for r in TABLE9]  # Nl-En

# Section 5: "on a run of 166 sentences of De-En translation, only 51 were
# identical between the two"
IDENTICAL = {"identical": 51, "sentences": 166}

# Section 4.1 / 7: "4-6x" speed-up of 8-bit over 32-bit decoding
SPEEDUP_RANGE = (4.0, 6.0)


def table6_speedups() -> dict[str, float]:
    """8-bit / 32-bit WPCS of each Table 6 model (4.4x to 5.8x: Table 6, each row divided)."""
    by = {(r["lang"], r["mode"]): r["wpcs"] for r in TABLE6}
    langs = dict.fromkeys(r["lang"] for r in TABLE6)
    return {lang: by[(lang, "8-bit")] / by[(lang, "32-bit")] for lang in langs}


def as_dict() -> dict:
    """Every table, for the JSON file of ``nmt8 reproduce``."""
    return {"citation": CITATION, "label": LABEL, "table1": TABLE1,
            "table2": TABLE2, "profile_by_category": PROFILE_BY_CATEGORY,
            "table3_wpcs": TABLE3, "table3_wps": TABLE3_WPS,
            "table4": TABLE4, "model_size": MODEL_SIZE, "table5": TABLE5,
            "table6": TABLE6, "table6_speedups": table6_speedups(),
            "table7": TABLE7, "table8": TABLE8, "table9": TABLE9,
            "table8_times_ms": TABLE8_TIMES_MS,
            "table9_times_ms": TABLE9_TIMES_MS, "identical": IDENTICAL}
