"""Model configuration: the hyper-parameters of Section 2 as a dataclass.

Saved beside the weights as ``model.npz.json`` with the key names Nematus uses
(``dim_word`` = E, ``dim`` = H, ``n_words_src``, ``n_words``), so the options
file of a real Nematus model loads too.

Does not: hold training settings (see ``nmt8.train``) or weights.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path


@dataclasses.dataclass
class ModelConfig:
    dim_word: int = 256  # E: embedding size (the paper: 620)
    dim: int = 512  # H: GRU state size (the paper: 1000)
    n_words_src: int = 8000  # source vocabulary size
    n_words: int = 8000  # target vocabulary size
    encoder: str = "gru"
    decoder: str = "gru_cond"
    dictionaries: list[str] = dataclasses.field(default_factory=list)
    bpe_models: list[str] = dataclasses.field(default_factory=list)
    src_lang: str = "de"
    tgt_lang: str = "en"
    length_alpha: float = 1.0  # beam length normalisation, chosen on val

    @classmethod
    def from_json(cls, path: str | Path) -> ModelConfig:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read model options {path}: {err}") from err
        if "model_options" in raw:  # nematus >= 0.3 nests the options
            raw = raw["model_options"]
        known = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{k: v for k, v in raw.items() if k in known})
        if cfg.encoder != "gru" or cfg.decoder != "gru_cond":
            raise ValueError(
                f"{path}: nmt8 implements encoder 'gru' + decoder 'gru_cond' "
                f"only, got {cfg.encoder!r} + {cfg.decoder!r}"
            )
        return cfg

    def to_json(self, path: str | Path) -> None:
        text = json.dumps(dataclasses.asdict(self), indent=2)
        Path(path).write_text(text + "\n", encoding="utf-8")
