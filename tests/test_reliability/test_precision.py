"""bfloat16 autocast on CPU for every backbone family.

Each backbone of ``BACKBONES`` runs forward and backward in training mode
on one 2×3×64×64 batch in float32, then, from the same weights and input,
under ``torch.autocast('cpu', dtype=torch.bfloat16)``. Tolerances, as
relative L2 errors ``‖x_bf16 − x_fp32‖ / ‖x_fp32‖``:

* every output: bfloat16, finite, within ``OUTPUT_RTOL`` = 3e-2 (measured
  up to ~9e-3: bfloat16 keeps 8 significant bits, a rounding of ~2e-3 per
  operation, accumulated over up to 50 layers);
* the input gradient: finite, within ``INPUT_GRAD_RTOL`` = 1.5e-1
  (measured up to ~6e-2);
* the concatenation of all parameter gradients: finite, within
  ``GRAD_RTOL`` = 1e-1 (measured up to ~2e-2). Per-parameter comparisons
  are not meaningful: some gradients are exactly zero in exact
  arithmetic (DCA's scalar connection bias feeds a LayerNorm, which
  removes it) and are rounding noise in both precisions.
"""
import copy

import pytest
import torch

from mmattn.registry import BACKBONE, MODELS, list_models

from .backbones import BACKBONES

OUTPUT_RTOL = 3e-2
INPUT_GRAD_RTOL = 1.5e-1
GRAD_RTOL = 1e-1


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm())


def test_backbone_list_covers_every_family():
    assert {cfg['type'] for cfg in BACKBONES.values()} == \
        set(list_models(BACKBONE))


def _run(model, x, bf16: bool):
    model.zero_grad()
    x = x.clone().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        outs = model(x)
    sum(out.float().square().mean() for out in outs).backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()
                       if p.grad is not None])
    return [out.detach() for out in outs], x.grad, grads


@pytest.mark.parametrize('name', list(BACKBONES))
def test_bfloat16_autocast_matches_float32(name):
    model = MODELS.build(copy.deepcopy(BACKBONES[name])).train()
    x = torch.randn(2, 3, 64, 64)
    outs32, xgrad32, grads32 = _run(model, x, bf16=False)
    outs16, xgrad16, grads16 = _run(model, x, bf16=True)
    assert len(outs16) == len(outs32) == 4
    for out16, out32 in zip(outs16, outs32):
        assert out16.dtype == torch.bfloat16
        assert torch.isfinite(out16).all()
        assert _relative(out16, out32) < OUTPUT_RTOL
    assert torch.isfinite(xgrad16).all() and torch.isfinite(grads16).all()
    assert _relative(xgrad16, xgrad32) < INPUT_GRAD_RTOL
    assert _relative(grads16, grads32) < GRAD_RTOL
