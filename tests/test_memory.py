"""Memory: what each precision holds (Model.nbytes, the arrays reachable from
a model), loading tensor by tensor, and nmt8.lab.speed.memory.measure in a fresh
process. The resident-set ratios are a benchmark (python -m nmt8.lab.speed.memory),
not a test."""

import numpy as np
import pytest

import nmt8
from nmt8.lab.speed.memory import MemoryResult, measure, save_model
from nmt8.model.params import param_shapes
from nmt8.model.weights import FUSED


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    """A small model saved as the paper's files (np.savez + options JSON);
    vocabularies unlike any other dimension, so shapes cannot be mixed up."""
    m = nmt8.random_model(emb=24, hidden=32, src_vocab=310, tgt_vocab=290,
                          seed=11)
    return save_model(tmp_path_factory.mktemp("mem"), m)


def reachable_arrays(obj) -> list[np.ndarray]:
    """Every ndarray reachable from obj through attributes, slots, dicts,
    lists and tuples (each memory buffer once, as its base array)."""
    seen, bases, todo = set(), {}, [obj]
    while todo:
        x = todo.pop()
        if id(x) in seen or isinstance(x, (str, bytes, int, float, type)):
            continue
        seen.add(id(x))
        if isinstance(x, np.ndarray):
            while isinstance(x.base, np.ndarray):
                x = x.base
            bases[id(x)] = x
            continue
        if isinstance(x, dict):
            todo += list(x.values())
        elif isinstance(x, (list, tuple)):
            todo += list(x)
        if hasattr(x, "__dict__") and not callable(x):
            todo += list(vars(x).values())
        for cls in type(x).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(x, slot):
                    todo.append(getattr(x, slot))
    return list(bases.values())


def matrix_shapes(cfg) -> set[tuple[int, int]]:
    """Shapes (either orientation) of every matrix a model multiplies: the
    Nematus tensors and the fused matrices."""
    shapes = param_shapes(cfg)
    out = set()
    for names, _ in FUSED.values():
        fused = (shapes[names[0]][0], sum(shapes[n][1] for n in names))
        for s in [fused] + [shapes[n] for n in names]:
            out |= {s, s[::-1]}
    return out


@pytest.mark.parametrize("precision", ["int8", "int16"])
def test_a_quantized_model_holds_no_float32_copy_of_its_matrices(npz, precision):
    """Loaded from its file, a quantized model holds its matrices quantized
    only (was: every fp32 tensor, and the fused fp32 matrices too)."""
    m = nmt8.load_model(npz, precision, kernel="ref")
    m.encode([3, 4, 0])  # a kernel has run: handles and packed copies made
    arrays = reachable_arrays(m)
    floats = [a for a in arrays if a.dtype == np.float32 and a.ndim == 2]
    assert floats == []  # embeddings are narrow too (int8 rows / fp16)
    narrow = {np.int8: "int8", np.int16: "int16"}
    quantized = [a for a in arrays if a.dtype.type in narrow]
    assert {a.shape for a in quantized} & matrix_shapes(m.cfg)
    # Model.nbytes counts exactly the arrays the model holds
    assert m.nbytes() == sum(a.nbytes for a in arrays)


def test_fp32_holds_each_tensor_once(npz):
    m = nmt8.load_model(npz)
    arrays = reachable_arrays(m)
    cfg = m.cfg
    n_params = sum(int(np.prod(s)) for s in param_shapes(cfg).values())
    zeros = 2 * cfg.dim + 3 * cfg.dim  # the fused biases' zero parts
    assert sum(a.nbytes for a in arrays) == 4 * (n_params + zeros)
    assert m.nbytes() == 4 * (n_params + zeros)


def test_nbytes_orders_the_precisions(npz):
    sizes = {p: nmt8.load_model(npz, p).nbytes() for p in
             ("fp32", "int16", "int8", "msfp16")}
    assert sizes["int8"] < sizes["int16"] < sizes["fp32"]
    assert sizes["msfp16"] == sizes["fp32"]  # simulated: float32 weights
    m32, m8 = nmt8.load_model(npz), nmt8.load_model(npz, "int8", kernel="ref")
    rows = sum(w.shape[1] for w in m32.W.values())  # outputs of every matrix
    # a byte per weight, and three 4-byte numbers per output row
    assert m8.nbytes("weights") <= m32.nbytes("weights") / 4 + 12 * rows
    assert m8.nbytes("embeddings") < 0.3 * m32.nbytes("embeddings")
    assert m8.nbytes("biases") == m32.nbytes("biases")
    with pytest.raises(ValueError, match="part must be one of"):
        m8.nbytes("scales")


def test_vnni_packs_at_load_and_counts_it(npz):
    from nmt8.native.kernels import available_kernels

    if "vnni" not in available_kernels():
        pytest.skip("this CPU has no AVX-512 VNNI")
    ref = nmt8.load_model(npz, "int8", kernel="ref")
    vnni = nmt8.load_model(npz, "int8", kernel="vnni")
    packed = [w.q.__dict__.get("packed") for w in vnni.W.values()]
    assert all(p is not None for p in packed)  # made at load, not later
    from nmt8.quant.vnni import ALIGN

    # each packed copy sits in a buffer ALIGN bytes larger, to align it
    assert vnni.nbytes() == ref.nbytes() + sum(p.nbytes + ALIGN for p in packed)


def test_copy_of_a_file_model_reads_the_file_again(npz, tmp_path):
    """A model loaded as int8 keeps no float32 weights, yet copies back to
    fp32 (reading the file) and answers params; without its file, one
    error naming it."""
    m32, m8 = nmt8.load_model(npz), nmt8.load_model(npz, "int8")
    back = m8.copy("fp32")
    for a, b in zip(back.encode([5, 6, 0]).h, m32.encode([5, 6, 0]).h):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(m8.params["decoder_Wc"],
                                  m32.params["decoder_Wc"])
    assert "decoder_Wc" not in m8.params.held()
    moved = save_model(tmp_path / "gone", m32)
    m = nmt8.load_model(moved, "int8")
    moved.unlink()
    with pytest.raises(ValueError, match="gone/model.npz"):
        m.copy("fp32")


def test_measure_in_a_fresh_process(npz):
    r = measure("int8", npz, kernel="ref", beam=2, max_len=3)
    assert isinstance(r, MemoryResult)
    assert (r.precision, r.kernel, r.scheme, r.embeddings) == (
        "int8", "ref", "per_tensor", "int8")
    assert r.nbytes == nmt8.load_model(npz, "int8", kernel="ref").nbytes()
    assert 0 < r.start <= r.peak and 0 < r.loaded <= r.peak
    assert r.translated <= r.peak <= r.maxrss
    assert r.row(r).startswith("| int8 | ref | int8 |")
    with pytest.raises(ValueError, match="unknown kernel 'x'"):
        measure("int8", npz, kernel="x")


def test_save_model_carries_the_bpe_models(tmp_path):
    """A model without a file of its own (the toy's) saved for a fresh
    process translates text there as here; one whose BPE models are not
    beside it is saved without them, and still loads."""
    from nmt8.testing import toy_model

    toy = toy_model(tmp_path / "toy")
    saved = nmt8.load_model(save_model(tmp_path / "saved", toy))
    lines = ["ein Mann .", "zwei Hunde laufen ."]
    assert nmt8.Translator(saved, beam=2).translate(lines) == \
        nmt8.Translator(toy, beam=2).translate(lines)
    toy.path = tmp_path / "elsewhere" / "model.npz"
    bare = nmt8.load_model(save_model(tmp_path / "bare", toy))
    assert bare.cfg.bpe_models == [] and nmt8.Translator(bare).src_bpe is None
