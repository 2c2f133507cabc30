"""nmt8.lab.peer: the PyTorch peer decodes like nmt8 and reports its times."""

import pytest

import nmt8
from nmt8.testing import GERMAN, toy_model

pytest.importorskip("torch")

from nmt8.lab.peer import PeerTranslator
from nmt8.translator import Timed


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_model(tmp_path_factory.mktemp("peer"), seed=4)


def test_fp32_peer_gives_nmt8s_outputs(toy):
    ours = nmt8.Translator(toy, beam=3)
    ids = ours.tokenize(GERMAN)
    assert PeerTranslator(toy, quantized=False, beam=3).translate_ids(ids) \
        == ours.translate_ids(ids)


def test_with_seconds_gives_one_time_per_sentence(toy):
    ids = nmt8.Translator(toy).tokenize(GERMAN)
    peer = PeerTranslator(toy, quantized=True, beam=2)
    timed = peer.translate_ids(ids, with_seconds=True)
    assert isinstance(timed, Timed)
    assert timed.outputs == peer.translate_ids(ids)
    assert len(timed.seconds) == len(ids) and all(s > 0 for s in timed.seconds)
    assert peer.precision == "torch-int8"
