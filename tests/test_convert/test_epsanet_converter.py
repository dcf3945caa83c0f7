"""The EPSANet converter against a network in the authors' layout.

``AuthorsPSA``/``AuthorsEPSANet`` below follow the structure the authors
published (github.com/murufeng/EPSANet): a torchvision-style ResNet whose
bottleneck ``conv2`` is a PSA module with branches ``conv_1..conv_4``, one
``se`` (``SEWeightModule``: ``fc1``, ``fc2``) shared by the branches, and
the weighted branches concatenated in reverse order. Converting its random
weights and loading them into mmattn's EPSANet must give the same function.
"""
import os.path as osp
import runpy
import sys
from collections import OrderedDict

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from mmattn.convert import convert_epsanet_state_dict
from mmattn.models.backbones import EPSANet

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class AuthorsSEWeight(nn.Module):

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x):
        pooled = x.mean((2, 3), keepdim=True)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(pooled))))


class AuthorsPSA(nn.Module):

    def __init__(self, inplanes, planes, stride=1, kernels=(3, 5, 7, 9),
                 groups=(1, 4, 8, 16)):
        super().__init__()
        for i, (k, g) in enumerate(zip(kernels, groups), 1):
            self.add_module(
                f'conv_{i}',
                nn.Conv2d(inplanes, planes // 4, k, stride, k // 2, groups=g,
                          bias=False))
        self.se = AuthorsSEWeight(planes // 4)

    def forward(self, x):
        feats = [getattr(self, f'conv_{i}')(x) for i in range(1, 5)]
        weights = torch.stack([self.se(f) for f in feats], 1).softmax(1)
        weighted = [f * weights[:, i] for i, f in enumerate(feats)]
        return torch.cat(weighted[::-1], 1)  # [k9, k7, k5, k3]


class AuthorsBlock(nn.Module):

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = AuthorsPSA(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class AuthorsEPSANet(nn.Module):

    def __init__(self, blocks=(3, 4, 6, 3), num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for stage, count in enumerate(blocks):
            planes = 64 * 2**stage
            layer = []
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                layer.append(AuthorsBlock(inplanes, planes, stride))
                inplanes = planes * 4
            self.add_module(f'layer{stage + 1}', nn.Sequential(*layer))
        self.fc = nn.Linear(inplanes, num_classes)

    def features(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for stage in range(1, 5):
            x = getattr(self, f'layer{stage}')(x)
        return x

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def randomise(model):
    """Random weights and BN statistics, so that a misplaced channel of any
    tensor changes the output."""
    torch.manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, 0, 0.1)
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                nn.init.normal_(module.bias, 0, 0.1)
    return model.eval()


@pytest.fixture(scope='module')
def authors():
    model = randomise(AuthorsEPSANet())
    # Their training script wraps the model in DataParallel.
    state = OrderedDict(
        (f'module.{k}', v) for k, v in model.state_dict().items())
    return model, state


def assert_same(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=1e-4,
                               atol=1e-4 * expected.abs().max().item())


def test_backbone_reproduces_authors_network(authors):
    model, state = authors
    ours = EPSANet(50, out_indices=(3, ))
    ours.eval()  # mmdet's ResNet.train() returns None
    converted = convert_epsanet_state_dict(state)
    assert not any(k.startswith(('fc.', 'head.')) for k in converted)
    ours.load_state_dict(converted, strict=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert_same(ours(x)[0], model.features(x))


def test_permutation_is_needed(authors):
    """Control: the converted keys without the reversal of bn2's and conv3's
    channel blocks give a different function, so the test above does check
    the permutation."""
    model, state = authors
    converted = convert_epsanet_state_dict(state)
    for key, tensor in converted.items():
        if '.bn2.' in key and tensor.dim() == 1:
            converted[key] = tensor.unflatten(0, (4, -1)).flip(0).flatten()
        elif key.endswith('conv3.weight'):
            converted[key] = tensor.unflatten(1, (4, -1)).flip(1).flatten(
                1, 2)
    ours = EPSANet(50, out_indices=(3, ))
    ours.eval()  # mmdet's ResNet.train() returns None
    ours.load_state_dict(converted, strict=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = model.features(x)
        error = (ours(x)[0] - expected).abs().max() / expected.abs().max()
    assert error > 1e-2


def test_classifier_reproduces_authors_logits(authors):
    from mmpretrain.registry import MODELS
    model, state = authors
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ours = MODELS.build(
            dict(type='ImageClassifier',
                 backbone=dict(type='EPSANet', depth=50, out_indices=(3, )),
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=1000,
                           in_channels=2048))).eval()
    converted = convert_epsanet_state_dict(state, classifier=True)
    assert all(k.startswith(('backbone.', 'head.fc.')) for k in converted)
    ours.load_state_dict(converted, strict=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert_same(ours(x, mode='tensor'), model(x))


def test_prefix_and_unknown_keys():
    state = {'conv1.weight': torch.zeros(1), 'fc.bias': torch.zeros(1)}
    assert list(convert_epsanet_state_dict(state, with_prefix=True)) == \
        ['backbone.conv1.weight']
    with pytest.raises(ValueError, match="key 'layer1.0.conv2.weight'"):
        convert_epsanet_state_dict({'layer1.0.conv2.weight': torch.zeros(1)})


def test_command_line_tool(tmp_path, monkeypatch):
    block = randomise(AuthorsBlock(64, 64))
    state = {f'module.layer1.0.{k}': v for k, v in block.state_dict().items()}
    state['module.fc.weight'] = torch.zeros(2, 3)
    src, dst = tmp_path / 'epsanet.pth.tar', tmp_path / 'converted.pth'
    torch.save(dict(epoch=1, arch='epsanet50', state_dict=state), src)
    tool = osp.join(REPO_ROOT, 'tools', 'model_converters',
                    'epsanet_to_mmattn.py')
    monkeypatch.setattr(sys, 'argv',
                        [tool, str(src), str(dst), '--classifier'])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(tool, run_name='__main__')
    assert exit_info.value.code == 0
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert 'head.fc.weight' in converted
    assert 'backbone.layer1.0.conv2.convs.3.weight' in converted
    assert len(converted) == len(state)
