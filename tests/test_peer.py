"""nmt8.lab.speed.peer: the PyTorch peer decodes like nmt8, one sentence or a batch.

The padded, masked network is checked against the plain one-sentence
network written out here (the peer's form before it learned to batch), and
fp32 output against nmt8's own fp32 decoder.
"""

import numpy as np
import pytest

import nmt8
from nmt8.testing import GERMAN, grammar_pairs, toy_model

torch = pytest.importorskip("torch")

from nmt8.lab.speed.peer import PeerTranslator, TorchModel
from nmt8.serve.translator import Timed


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_model(tmp_path_factory.mktemp("peer"), seed=4)


@pytest.fixture(scope="module")
def ids(toy):
    lines = [de for de, _ in grammar_pairs()[::3]] + GERMAN  # 23 sentences
    return nmt8.Translator(toy).tokenize(lines)


# -- the one-sentence network, unpadded (the reference) ------------------------------
def _plain_encode(tm, src):
    H, L = tm.cfg.dim, tm.L
    with torch.inference_mode():
        x_proj = L["enc_x"](tm.Wemb[torch.as_tensor(src)])  # (S, 6H)
        S = len(src)
        h = torch.empty(S, 2 * H)
        fwd, bwd = torch.zeros(1, H), torch.zeros(1, H)
        for i in range(S):
            fwd = tm._gru(x_proj[i:i + 1, :3 * H], fwd, "enc_U")
            h[i, :H] = fwd[0]
            j = S - 1 - i
            bwd = tm._gru(x_proj[j:j + 1, 3 * H:], bwd, "enc_r_U")
            h[j, H:] = bwd[0]
        s0 = torch.tanh(L["ff_state"](h.mean(0, keepdim=True)))
        return h, L["Wc_att"](h), s0


def _plain_step(tm, h, pctx, s_prev, y_prev):
    H, C, L = tm.cfg.dim, 2 * tm.cfg.dim, tm.L
    with torch.inference_mode():
        emb = tm.Wemb_dec[torch.as_tensor(np.maximum(y_prev, 0))]
        emb[torch.as_tensor(y_prev < 0)] = 0.0
        y_proj = L["dec_y"](emb)
        s1 = tm._gru(y_proj[:, :3 * H], torch.from_numpy(s_prev), "dec_U")
        s1_proj = L["dec_s1"](s1)
        P, S = s1.shape[0], pctx.shape[0]
        e = torch.tanh(pctx[None] + s1_proj[:, None, :C])
        alpha = torch.softmax(L["U_att"](e.reshape(P * S, C)).reshape(P, S), -1)
        c_proj = L["dec_ctx"](alpha @ h)
        s_t = tm._gates(c_proj[:, :3 * H], s1_proj[:, C:], s1, H, torch)
        t = torch.tanh(L["logit_lstm"](s_t) + y_proj[:, 3 * H:]
                       + c_proj[:, 3 * H:])
        return L["logit"](t).numpy(), s_t.numpy(), alpha.numpy()


@pytest.mark.parametrize("quantized", [False, True])
def test_a_batch_of_one_is_the_plain_one_sentence_network(toy, ids, quantized):
    tm = TorchModel(toy, quantized)
    src = ids[0] + [nmt8.serve.text.EOS]
    h, pctx, s0 = _plain_encode(tm, src)
    enc = tm.encode(src)
    np.testing.assert_array_equal(enc.h.numpy(), h.numpy())
    np.testing.assert_array_equal(enc.pctx.numpy(), pctx.numpy())
    np.testing.assert_array_equal(enc.s0, s0.numpy())
    s = np.repeat(enc.s0, 3, axis=0)  # (3, H): three hypotheses
    y = np.array([-1, 4, 7])
    for _ in range(3):
        want = _plain_step(tm, h, pctx, s, y)
        got = tm.step(enc, s, y)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        s, y = got[1], got[0].argmax(1)


def test_padding_is_masked(toy, ids):
    """A short sentence beside a longer one: its annotations, s_0 and
    attention are those it gets alone (fp32, up to rounding), and no
    attention weight lands on a padded position."""
    tm = TorchModel(toy)
    short, long = ids[1][:3] + [1], ids[2] + [1]
    assert len(long) > len(short)
    alone = tm.encode(short)
    enc_short, enc_long = tm.encode_batch([short, long])
    np.testing.assert_allclose(enc_short.h.numpy(), alone.h.numpy(), atol=1e-6)
    np.testing.assert_allclose(enc_short.s0, alone.s0, atol=1e-6)
    assert enc_short.h.shape[0] == len(short)
    assert not enc_short.batch.h[0, len(short):].any()  # padded rows zero
    s = np.concatenate([enc_short.s0, enc_long.s0, enc_long.s0])  # (3, H)
    logits, _, (a_short, a_long) = tm.step_batch([enc_short, enc_long], [1, 2], s,
                                                 np.array([-1, -1, -1]))
    assert a_short.shape == (1, len(short)) and a_long.shape == (2, len(long))
    np.testing.assert_allclose(a_short.sum(1), 1.0, rtol=1e-6)
    want, _, _ = tm.step(alone, enc_short.s0, np.array([-1]))
    np.testing.assert_allclose(logits[:1], want, rtol=1e-5, atol=1e-6)


def test_fp32_peer_gives_nmt8s_outputs(toy, ids):
    ours = nmt8.Translator(toy, beam=3)
    assert PeerTranslator(toy, quantized=False, beam=3).translate_ids(ids) \
        == ours.translate_ids(ids)


def test_fp32_batched_gives_its_unbatched_outputs(toy, ids):
    """fp32 on a tiny model: every translation as at batch 1 (and as nmt8's)."""
    peer = PeerTranslator(toy, quantized=False, beam=3)
    one = peer.translate_ids(ids)
    assert peer.translate_ids(ids, batch_size=8) == one
    assert peer.translate_ids(ids, batch_size=32) == one


def test_int8_batched_decodes_every_sentence(toy, ids):
    """FBGEMM int8 takes one activation scale per product, so batched output
    may differ from batch 1 (the reproduce report counts it); the batch
    still gives one output per sentence, in input order."""
    peer = PeerTranslator(toy, quantized=True, beam=3)
    one = peer.translate_ids(ids)
    many = peer.translate_ids(ids, batch_size=8)
    assert len(many) == len(one) == len(ids)
    # a batch of identical sentences has one activation range: no neighbour
    # changes anything
    same = [ids[0]] * 4
    assert peer.translate_ids(same, batch_size=4) == peer.translate_ids(same)


def test_with_seconds_gives_one_time_per_sentence(toy, ids):
    peer = PeerTranslator(toy, quantized=True, beam=2)
    for bs in (1, 4):
        timed = peer.translate_ids(ids, with_seconds=True, batch_size=bs)
        assert isinstance(timed, Timed)
        assert timed.outputs == peer.translate_ids(ids, batch_size=bs)
        assert len(timed.seconds) == len(ids) and all(s > 0 for s in timed.seconds)
    assert peer.precision == "torch-int8" and peer.models == [peer.model]


def test_empty_sources_and_bad_batch_sizes(toy, ids):
    peer = PeerTranslator(toy, beam=2)
    assert peer.translate_ids([[], ids[0]], batch_size=2)[0] == []
    assert peer.translate_ids([[], ids[0]])[0] == []
    with pytest.raises(ValueError, match="batch_size"):
        peer.translate_ids(ids, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        peer.translate_ids(ids, batch_size=2.0)
