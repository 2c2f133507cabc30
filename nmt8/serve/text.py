"""Text pipeline: BPE subword units (Sennrich et al., 2016), as in the paper.

Uses SentencePiece in BPE mode (it tokenises, segments and detokenises in one
maintained library), one model per language. Ids follow the Nematus
convention: ``</s>`` (end of sentence) is 0 and ``<unk>`` is 1; the JSON
vocabulary written beside each model maps piece -> id like a Nematus
dictionary.

Does not: translate, or score (BLEU/chrF come from sacrebleu, see
``nmt8.lab.speed.measure``).
"""

from __future__ import annotations

import json
from pathlib import Path

from nmt8.model.config import EOS, UNK


class BPE:
    """One language's subword model: text <-> piece ids."""

    def __init__(self, model_file: str | Path):
        import sentencepiece as spm

        self.path = Path(model_file)
        if not self.path.exists():
            raise FileNotFoundError(f"BPE model {self.path} not found")
        if not self.path.is_file() or self.path.stat().st_size == 0:
            raise ValueError(f"BPE model {self.path} is empty or not a file")
        try:
            self.sp = spm.SentencePieceProcessor(model_file=str(self.path))
        except (RuntimeError, OSError) as err:  # sentencepiece's parse errors
            raise ValueError(f"BPE model {self.path} is not a SentencePiece "
                             f"model ({err})") from None
        if self.sp.eos_id() != EOS or self.sp.unk_id() != UNK:
            raise ValueError(f"{self.path}: expected </s>=0 and <unk>=1 ids")

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Ids of the subword units of ``text`` (no end-of-sentence id)."""
        return self.sp.encode(text)

    def pieces(self, text: str) -> list[str]:
        return self.sp.encode(text, out_type=str)

    def decode(self, ids) -> str:
        """Detokenised text; ``</s>`` and anything after it is dropped."""
        ids = list(ids)
        if EOS in ids:
            ids = ids[: ids.index(EOS)]
        return self.sp.decode(ids)

    def id_to_piece(self, i: int) -> str:
        return self.sp.id_to_piece(int(i))

    def vocab(self) -> dict[str, int]:
        return {self.sp.id_to_piece(i): i for i in range(len(self))}


def train_bpe(lines, prefix: str | Path, vocab_size: int = 8000) -> BPE:
    """Learn a BPE model from ``lines``; writes ``prefix.model`` + ``prefix.json``."""
    import sentencepiece as spm

    prefix = Path(prefix)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(prefix),
        vocab_size=vocab_size, model_type="bpe", character_coverage=1.0,
        eos_id=EOS, unk_id=UNK, bos_id=-1, pad_id=-1,
        eos_piece="</s>", unk_piece="<unk>", num_threads=1,
        minloglevel=2,
    )
    Path(f"{prefix}.vocab").unlink(missing_ok=True)  # the JSON replaces it
    bpe = BPE(f"{prefix}.model")
    Path(f"{prefix}.json").write_text(
        json.dumps(bpe.vocab(), ensure_ascii=False, indent=0) + "\n",
        encoding="utf-8")
    return bpe
