"""SyncBN on CPU.

A backbone config with ``norm_cfg=dict(type='SyncBN')`` builds
``torch.nn.SyncBatchNorm`` for every norm layer built from ``norm_cfg``
(stem, blocks, downsample). Attention modules build their own norms (BN in
CBAM's spatial gate and DCA's spatial connection, SRM, BAM, ...) and keep
plain BatchNorm; mmengine's config key ``sync_bn='torch'`` (its runner's
``convert_sync_batchnorm``, in distributed runs) converts those too.

On CPU, torch's SyncBatchNorm trains only without a process group (it then
is plain BN); under gloo it raises (see test_ddp.py). mmengine's Runner
reverts SyncBN to BN when not distributed (``revert_sync_batchnorm``), as
done here: the reverted backbone trains, and computes what a BN-built one
computes with the same weights (same state-dict keys).
"""
import copy

import pytest
import torch
from mmengine.model import convert_sync_batchnorm, revert_sync_batchnorm
from torch import nn

from mmattn.registry import MODELS

from .backbones import BACKBONES

SYNC_BN = dict(type='SyncBN', requires_grad=True)


def _build(name, **kwargs):
    return MODELS.build(dict(copy.deepcopy(BACKBONES[name]), **kwargs))


def _count(model, cls):
    return sum(isinstance(m, cls) for m in model.modules())


@pytest.mark.parametrize('name', list(BACKBONES))
def test_syncbn_backbone_builds_reverts_and_trains(name):
    synced = _build(name, norm_cfg=SYNC_BN)
    assert _count(synced, nn.SyncBatchNorm) > 0
    reverted = revert_sync_batchnorm(synced)
    assert _count(reverted, nn.SyncBatchNorm) == 0
    plain = _build(name)
    assert set(reverted.state_dict()) == set(plain.state_dict())
    plain.load_state_dict(reverted.state_dict())

    x = torch.randn(2, 3, 64, 64)
    outputs = []
    for model in (reverted, plain):
        model.train()
        outs = model(x)
        sum(out.square().mean() for out in outs).backward()
        outputs.append(outs)
    for a, b in zip(*outputs):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b)
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in reverted.parameters() if p.requires_grad)


def test_attention_norms_follow_sync_bn_conversion_not_norm_cfg():
    model = _build('DCAResNet-18-CBAM', norm_cfg=SYNC_BN)
    plain_bn = [name for name, m in model.named_modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm)
                and not isinstance(m, nn.SyncBatchNorm)]
    # CBAM's spatial BN and DCA's spatial connection BN in every block.
    assert plain_bn and all('.connected.' in name for name in plain_bn)
    converted = convert_sync_batchnorm(model, implementation='torch')
    assert not [m for m in converted.modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm)
                and not isinstance(m, nn.SyncBatchNorm)]
