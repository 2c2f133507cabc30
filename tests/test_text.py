"""BPE (SentencePiece) round trip and the Nematus id convention."""

import pytest

from nmt8.model.config import EOS, UNK
from nmt8.serve.text import BPE

from .conftest import GERMAN, SHIPPED


@pytest.fixture(scope="module")
def bpe_de():
    return BPE(SHIPPED / "bpe.de.model")


@pytest.mark.parametrize("text", GERMAN + ["Größe, Maß und Übermut!"])
def test_round_trip(bpe_de, text):
    assert bpe_de.decode(bpe_de.encode(text)) == text


def test_ids_and_eos(bpe_de):
    assert bpe_de.id_to_piece(EOS) == "</s>"
    assert bpe_de.id_to_piece(UNK) == "<unk>"
    ids = bpe_de.encode(GERMAN[0])
    assert bpe_de.decode(ids + [EOS, ids[0]]) == GERMAN[0]  # stops at </s>


def test_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError):
        BPE(tmp_path / "nope.model")


@pytest.mark.parametrize("content", [b"", bytes(range(256)) * 4, b"\x0a\x05hello"])
def test_corrupt_model_is_one_value_error(tmp_path, content):
    p = tmp_path / "bpe.de.model"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=r"bpe\.de\.model"):
        BPE(p)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        BPE(tmp_path)
