import os

import numpy as np
import pytest

import nmt8
from nmt8.model.params import MODELS_DIR
from nmt8.testing import GERMAN  # noqa: F401 (our own sentences, for the tests)

SHIPPED = MODELS_DIR / "de-en"


def pytest_configure(config):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shipped():
    if not (SHIPPED / "model.npz").exists():
        pytest.fail(f"the shipped model is missing from {SHIPPED}")
    return nmt8.load_model("de-en")


@pytest.fixture(scope="session")
def tiny():
    """A tiny random model (fixed seed) with small vocabularies."""
    return nmt8.random_model(emb=12, hidden=16, src_vocab=40, tgt_vocab=30, seed=3)


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """A tiny random model with BPE models: reads and writes (nonsense) text."""
    from nmt8.testing import toy_model

    return toy_model(tmp_path_factory.mktemp("toy"), seed=3)


@pytest.fixture
def random_src():
    """``make(n)``: n random sources of ids (lengths 3, 4, ...), fixed seed."""
    def make(n, vocab=60, seed=0):
        rng = np.random.default_rng(seed)
        return [rng.integers(2, vocab, size=k).tolist() for k in range(3, 3 + n)]
    return make


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def toy_dir(toy):
    """The toy model saved as a model folder (model.npz, its options, its
    BPE models), for the command line."""
    folder = toy.path.parent
    if not (folder / "model.npz").exists():
        np.savez(folder / "model.npz", **{k: toy.params[k] for k in toy.params})
        toy.cfg.to_json(folder / "model.npz.json")
    return folder
