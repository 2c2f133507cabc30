"""A tiny parallel corpus of our own, in the Multi30k file layout.

The corpus and its writer live in ``nmt8.testing`` (shared with the
notebooks); this module keeps the names the tests import.
"""

from nmt8.testing import grammar_pairs as pairs  # noqa: F401
from nmt8.testing import write_multi30k


def write_corpus(folder, src="de", tgt="en"):
    """Write train/val/test_2016_flickr .de.gz/.en.gz files; returns folder."""
    return write_multi30k(folder, src=src, tgt=tgt)
