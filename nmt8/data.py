"""The Multi30k corpus: where it lives, how to read it, how to download it.

Multi30k task 1 (Elliott et al., 2016): 29,000 training, 1,014 validation and
1,000 test (test_2016_flickr) sentence pairs, line-aligned, gzip.

The corpus is read from ``NMT8_DATA`` (or an explicit path); real users fetch it
with ``nmt8 data download``. nmt8 never ships corpus sentences.

Does not: tokenise (see ``nmt8.serve.text``).
"""

from __future__ import annotations

import gzip
import os
import shutil
import urllib.request
from pathlib import Path

SPLITS = ("train", "val", "test_2016_flickr")
LANGS = ("en", "de", "fr", "cs")
BASE_URL = (
    "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
)


class DataMissing(FileNotFoundError):
    """The corpus is not where nmt8 looked; the message says how to get it."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The corpus folder: ``path``, else ``$NMT8_DATA``, else ``./data/multi30k``."""
    return Path(path or os.environ.get("NMT8_DATA") or "data/multi30k")


def corpus_file(split: str, lang: str, path=None) -> Path:
    if split not in SPLITS or lang not in LANGS:
        raise ValueError(f"unknown split/lang {split!r}/{lang!r}")
    f = data_dir(path) / f"{split}.{lang}.gz"
    if not f.exists():
        raise DataMissing(
            f"{f} not found. Set NMT8_DATA to the folder holding the Multi30k "
            f"files, or run `nmt8 data download --out {data_dir(path)}`."
        )
    return f


def read_lines(split: str, lang: str, path=None, limit: int | None = None):
    """The sentences of one side of a split, stripped of their newline."""
    with gzip.open(corpus_file(split, lang, path), "rt", encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in fh]
    return lines[:limit] if limit else lines


def download(out: str | os.PathLike, base_url: str = BASE_URL,
             langs=("de", "en"), splits=SPLITS, progress=True) -> list[Path]:
    """Fetch the Multi30k files into ``out`` (``base_url`` may be ``file://``)."""
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [(s, lang) for s in splits for lang in langs]
    done = []
    for split, lang in tqdm(todo, desc="multi30k", disable=not progress):
        name = f"{split}.{lang}.gz"
        target = out / name
        tmp = target.with_suffix(".part")
        with urllib.request.urlopen(base_url.rstrip("/") + "/" + name) as r, \
                open(tmp, "wb") as fh:
            shutil.copyfileobj(r, fh)
        with gzip.open(tmp, "rt", encoding="utf-8") as fh:  # validate
            n = sum(1 for _ in fh)
        if n == 0:
            tmp.unlink()
            raise ValueError(f"{name}: downloaded file is empty")
        tmp.replace(target)
        done.append(target)
    return done
