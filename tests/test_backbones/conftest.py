"""Checks every attention backbone must pass, as fixtures returning
functions."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _build_backbone(cfg: dict) -> torch.nn.Module:
    from mmattn.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg))


def _build_classifier(backbone: dict, in_channels: int = 2048):
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(
            dict(type='ImageClassifier',
                 backbone=copy.deepcopy(backbone),
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=1000,
                           in_channels=in_channels)))


@pytest.fixture
def imagenet_params():
    """Parameters of an mmpretrain ImageClassifier (GAP neck, 1000-class
    linear head) around a backbone config: the papers' ImageNet counts."""

    def count(backbone: dict, in_channels: int = 2048) -> int:
        return _count(_build_classifier(backbone, in_channels))

    return count


@pytest.fixture
def check_classifier_forward():
    """A backbone config works as mmpretrain ImageClassifier backbone, with
    the same state-dict keys (under ``backbone.``) as the bare backbone."""

    def check(backbone: dict, in_channels: int = 2048) -> None:
        classifier = _build_classifier(backbone, in_channels)
        classifier.eval()
        with torch.no_grad():
            scores = classifier(torch.randn(2, 3, 64, 64), mode='tensor')
        assert scores.shape == (2, 1000) and torch.isfinite(scores).all()
        bare = set(_build_backbone(backbone).state_dict())
        nested = {k[len('backbone.'):]
                  for k in classifier.state_dict() if k.startswith('backbone.')}
        assert nested == bare

    return check


@pytest.fixture
def check_gradients():
    """Every parameter of the backbone gets a gradient in one backward."""

    def check(backbone: dict) -> None:
        model = _build_backbone(backbone)
        model.init_weights()
        model.train()
        outs = model(torch.randn(2, 3, 64, 64))
        sum(o.square().mean() for o in outs).backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f'parameters without gradient: {missing}'

    return check


@pytest.fixture
def check_frozen_stages():
    """frozen_stages=1 freezes layer1, including its attention (named by
    ``attention_key``), and leaves layer2 trainable: right after building
    (DDP wraps a model and an optimizer takes its parameters before any
    train() call, which would freeze them again) and after train()."""

    def check(backbone: dict, attention_key: str) -> None:
        model = _build_backbone(dict(backbone, frozen_stages=1,
                                     norm_eval=False))
        params = dict(model.named_parameters())
        frozen = [n for n in params
                  if n.startswith('layer1.') and attention_key in n]
        trainable = [n for n in params
                     if n.startswith('layer2.') and attention_key in n]
        assert frozen and trainable, attention_key
        for when in ('after building', 'after train()'):
            if when == 'after train()':
                model.train()
            assert not any(params[n].requires_grad for n in frozen), when
            assert all(params[n].requires_grad for n in trainable), when
            assert not model.layer1.training, when
            assert model.layer2.training, when

    return check


@pytest.fixture
def check_with_cp():
    """Activation checkpointing gives the same outputs and gradients."""

    def check(backbone: dict) -> None:
        plain = _build_backbone(dict(backbone, with_cp=False))
        checkpointed = _build_backbone(dict(backbone, with_cp=True))
        checkpointed.load_state_dict(plain.state_dict())
        x = torch.randn(2, 3, 64, 64)
        grads = []
        for model in (plain, checkpointed):
            model.eval()  # same BN statistics for both runs
            input_ = x.clone().requires_grad_()
            outs = model(input_)
            sum(o.sum() for o in outs).backward()
            grads.append((outs, input_.grad,
                          [p.grad for p in model.parameters()]))
        for a, b in zip(grads[0][0], grads[1][0]):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(grads[0][1], grads[1][1])
        for a, b in zip(grads[0][2], grads[1][2]):
            torch.testing.assert_close(a, b)

    return check
