"""Quantization-aware training: fake quantization with the straight-through
estimator (the open question of Section 7 of Quinn & Ballesteros 2018,
"would training quantized models change the results").

Fake quantization rounds a float tensor to the integers decoding would use
and multiplies them back by their step, so the float network computes with
exactly the values the quantized decoder multiplies:

* int8 weights (Section 3, ``nmt8.quant.int8``): symmetric, one scale per
  fused matrix (``"per_tensor"``) or per output (``"per_row"``),
  ``scale = 127 / max|W|``, ``q = rint(W * scale)``, value ``q * step``
  with ``step = max|W| / 127`` (the step the int8 kernels multiply by);
* int4 weights (``csrc/nmt8_int4.h``): symmetric in [-7, 7], one
  step per group of ``G`` consecutive inputs of each output,
  ``step = max|w_group| / 7``, ``q = clip(rint(w / step), -7, 7)``, the
  last group zero padded;
* int8 activations, at every quantized product: each row ``x`` of X is
  rounded with its own step ``max|x| / 127`` (``quantize_activations``).

Rounding is to nearest even (``torch.round``, as ``np.rint``); an all-zero
row or group has step 0 and gives zeros.

**The straight-through estimator.** ``rint`` has zero gradient almost
everywhere, so the backward pass pretends the rounding is the identity:
``d fq(x) / dx = 1`` where the rounded value is inside [-qmax, qmax], and
0 where clipping changed it (a value that clipping moves does not move
the output, so its true gradient is 0 there). The steps count as
constants of the forward pass (no gradient flows into ``max|x|``), as in
the max-calibrated QAT of Jacob et al. 2018. With steps taken from the
maximum, as here, nothing is clipped (the largest value rounds to qmax),
so the gradient is the identity everywhere; the clipping branch matters
for a step given from outside (a clipped or learned range), which
``fake_quant`` accepts.

Which products are quantized: exactly those decoding quantizes, the fused
matrices of ``nmt8.model.weights.FUSED`` (every weight product of the
network, the attention's ``U_att`` included; int4 keeps ``U_att`` in
int8 per tensor, as int4 decoding does); embeddings are lookups
whose int8 rows equal the activation rounding of the product they enter,
and biases stay float. A per-tensor int8 scale is the fused matrix's
maximum, so the Nematus tensors stored side by side share one scale, as
in decoding. Weights are first rounded to the stored dtype (float16 for
the shipped models), since decoding quantizes what was stored.

Does not: train (``nmt8.train.loop``), run the network
(``nmt8.train.model``, whose products call :meth:`FakeQuant.product`), or
quantize for decoding (``nmt8.quant``).
"""

from __future__ import annotations

import dataclasses
import functools

from nmt8.model.precision import INT4_KEEPS_INT8
from nmt8.model.weights import FUSED
from nmt8.train.model import import_torch

QAT_MODES = ("int8", "int4")
GROUPS = (32, 64)
INT8_MAX = 127
INT4_MAX = 7


@functools.cache
def _functions():
    torch = import_torch()

    class FakeQuantSTE(torch.autograd.Function):
        """``step * clip(rint(x * scale or x / step), -qmax, qmax)``; STE
        backward: the gradient where clipping did not act, else 0."""

        @staticmethod
        def forward(ctx, x, scale, step, qmax, divide):
            v = x / step if divide else x * scale
            r = torch.round(v)  # half to even, as np.rint
            r = torch.where(step == 0, torch.zeros_like(r), r)
            keep = r.abs() <= qmax
            ctx.save_for_backward(keep)
            return r.clamp(-qmax, qmax) * step

        @staticmethod
        def backward(ctx, grad):
            (keep,) = ctx.saved_tensors
            return grad * keep, None, None, None, None

    class RoundSTE(torch.autograd.Function):
        """Round to a float dtype (float16: what the model file stores);
        the gradient passes unchanged."""

        @staticmethod
        def forward(ctx, x, dtype):
            return x.to(dtype).to(x.dtype)

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    return FakeQuantSTE, RoundSTE


def fake_quant(x, scale, step, qmax: int, divide: bool = False):
    """Fake-quantize x with the STE: ``clip(rint(x * scale), -qmax, qmax)
    * step`` (``x / step`` inside rint when ``divide``).

    scale, step: tensors broadcastable to x (the caller's scheme decides
    their shape); a zero step gives zeros.
    """
    return _functions()[0].apply(x, scale, step, qmax, divide)


def _int8_scale_step(absmax, torch):
    """scale ``127 / max`` (1 for a zero max) and step ``max / 127``, in
    float32 as ``nmt8.quant.int8``."""
    absmax = absmax.float()
    zero = absmax == 0
    safe = torch.where(zero, torch.ones_like(absmax), absmax)
    scale = torch.where(zero, torch.ones_like(absmax), torch.tensor(127.0) / safe)
    return scale, absmax / torch.tensor(127.0)


def fq_weight_int8(W, absmax=None):
    """W (in, out) as int8 decoding sees it: ``absmax`` () for one scale
    (default: ``max|W|``, per tensor) or (out,) per output."""
    torch = import_torch()
    with torch.no_grad():
        if absmax is None:
            absmax = W.detach().abs().max()
        scale, step = _int8_scale_step(absmax, torch)
    return fake_quant(W, scale, step, INT8_MAX)


def fq_weight_int4(W, group: int):
    """W (in, out) as int4 decoding sees it: one step per ``group``
    consecutive inputs of each output, ``max|w_group| / 7``; the last
    group zero padded (its padding is dropped again)."""
    torch = import_torch()
    K, N = W.shape
    NG = -(-K // group)
    WT = W.t()  # (out, in)
    if NG * group != K:
        WT = torch.nn.functional.pad(WT, (0, NG * group - K))
    Wg = WT.reshape(N, NG, group)  # (out, NG, G)
    with torch.no_grad():
        step = Wg.detach().abs().amax(-1, keepdim=True) / torch.tensor(7.0)
    q = fake_quant(Wg, step, step, INT4_MAX, divide=True)
    return q.reshape(N, NG * group)[:, :K].t()  # (in, out)


def fq_activations(X):
    """Each row of X (..., in) rounded to int8 with its own step
    ``max|row| / 127``, as every quantized product of decoding does."""
    torch = import_torch()
    with torch.no_grad():
        absmax = X.detach().abs().amax(-1, keepdim=True)
        scale, step = _int8_scale_step(absmax, torch)
    return fake_quant(X, scale, step, INT8_MAX)


@dataclasses.dataclass
class FakeQuant:
    """The quantized products of a model in training, as decoding runs them.

    ``mode``: "int8" (``scheme`` per_tensor or per_row) or "int4" (``group``
    32 or 64); ``store_dtype``: the dtype weights are stored in
    (``TrainConfig.export_dtype``), rounded to before quantizing.
    Call :meth:`refresh` once per forward pass (the weights change every
    step); :meth:`product` then multiplies with the cached weights.
    """

    mode: str
    scheme: str = "per_tensor"
    group: int = 32
    store_dtype: str = "float16"
    W: dict = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.mode not in QAT_MODES:
            raise ValueError(f"qat mode must be one of {QAT_MODES}, got "
                             f"{self.mode!r}")
        if self.mode == "int4" and self.group not in GROUPS:
            raise ValueError(f"int4 group must be one of {GROUPS}, got "
                             f"{self.group!r}")
        if self.scheme not in ("per_tensor", "per_row"):
            raise ValueError(f"int8 scheme must be per_tensor or per_row, "
                             f"got {self.scheme!r}")

    def refresh(self, model) -> None:
        """Fake-quantize every weight of the fused products of ``model``."""
        torch = import_torch()
        RoundSTE = _functions()[1]
        dtype = getattr(torch, self.store_dtype)
        self.W = {}
        for key, (names, _) in FUSED.items():
            ws = [RoundSTE.apply(model.nematus(n), dtype) for n in names]
            absmax = None
            # int4 decoding keeps these in int8 per tensor (nmt8.model.precision)
            keep8 = self.mode == "int4" and key in INT4_KEEPS_INT8
            if keep8 or (self.mode == "int8" and self.scheme == "per_tensor"):
                with torch.no_grad():  # one scale for the fused matrix
                    absmax = max(w.detach().abs().max() for w in ws)
            for n, w in zip(names, ws):
                if self.mode == "int4" and not keep8:
                    self.W[n] = fq_weight_int4(w, self.group)
                elif absmax is None:
                    self.W[n] = fq_weight_int8(
                        w, w.detach().abs().amax(0))  # (out,)
                else:
                    self.W[n] = fq_weight_int8(w, absmax)

    def weight(self, *names):
        """The fake-quantized weight of ``names`` side by side (in, out)."""
        if len(names) == 1:
            return self.W[names[0]]
        if names not in self.W:
            self.W[names] = import_torch().cat([self.W[n] for n in names], -1)
        return self.W[names]

    def product(self, x, *names):
        """``fq(x) @ fq(W)``: x rounded per row, the weights as decoding."""
        return fq_activations(x) @ self.weight(*names)
