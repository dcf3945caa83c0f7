"""The DCANet converter against networks in the authors' layout.

The ``Authors*`` modules below follow the structure (attribute names,
shapes, forward) of the authors' published DCA-ResNets
(github.com/ma-xu/DCANet, ``models/resnet/resnet_{se,getheta,gc,cbam,
sk2}_dca.py``), written from that description:

* a torchvision ResNet whose blocks pass ``(x, previous attention)`` on;
* SE (``se``) / GE-θ⁻ (``ge``): ``G = GAP(x)``; connected as
  ``conv = Conv2d(2, 1, 1) + LayerNorm(C) + ReLU`` over the stacked [G, T̃],
  T̃ matched by ``att_fc = Linear + LayerNorm + ReLU`` where the block's
  input channels differ from C (also in the first block, unused there);
  excite ``fc = Linear, ReLU, Linear, Sigmoid`` (SE) or a sigmoid (GE);
  state ``G · att``;
* GC (``rgc``): ``context + weight · att_fc(T̃)``, ``att_fc`` = 1×1 conv,
  LayerNorm([C/16, 1, 1]), ReLU, 1×1 conv; state the channel-add term;
* CBAM (``cbam``): ``ChannelGate`` (``mlp`` = Flatten, Linear, ReLU,
  Linear; ``att_fc`` = 1×1 conv + BN + ReLU on the previous map; ``alpha``
  = Conv2d(2, 1, 1, no bias) + LayerNorm + ReLU shared by avg and max) and
  ``SpatialGate`` (``spatial.conv/bn``, ``p1``, ``p2``, ``bnrelu`` = BN(2) +
  ReLU; the previous map average-pooled by the integer size ratio);
* SK: the bottleneck's ``conv2/bn2``, ``conv2g/bn2g`` (dilation 2),
  ``conv_fc1/bn_fc1/conv_fc2``, per-branch ``att_conv1/2`` and, where
  ``inplanes == 2 · planes``, ``att_fc_1/2``; state the per-branch GAP of
  the selected features.

Converting their random weights and loading them into mmattn's DCAResNet
must give the same function (DCA-CBAM: up to its inexact matching layers).
"""
import logging
import os.path as osp
import re
import runpy
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from torch import nn

from mmattn.convert.dcanet import convert_dcanet_state_dict
from mmattn.models.attention import CBAM
from mmattn.models.backbones import DCAResNet
from mmattn.models.connect import AttentionState, DCA

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LOGGER = 'mmattn.convert.dcanet'


def connection(channels, bias=True):
    return nn.Sequential(
        nn.Conv2d(2, 1, 1, bias=bias), nn.LayerNorm(channels), nn.ReLU())


def stacked(current, previous):
    """[G, T̃] as the authors feed their Conv2d(2, 1, 1): (B, 2, 1, C)."""
    return torch.stack((current, previous), 1).unsqueeze(2)


class AuthorsExcite(nn.Module):
    """``CSELayer`` (SE, ``gate=True``) / ``GEBlock`` (GE-θ⁻)."""

    def __init__(self, in_channels, channels, gate=True):
        super().__init__()
        if gate:
            self.fc = nn.Sequential(
                nn.Linear(channels, channels // 16), nn.ReLU(),
                nn.Linear(channels // 16, channels), nn.Sigmoid())
        if in_channels != channels:
            self.att_fc = nn.Sequential(
                nn.Linear(in_channels, channels), nn.LayerNorm(channels),
                nn.ReLU())
        self.conv = connection(channels)

    def forward(self, x, previous):
        b, c = x.shape[:2]
        gap = x.mean((2, 3))
        context = gap
        if previous is not None:
            if hasattr(self, 'att_fc'):
                previous = self.att_fc(previous)
            context = self.conv(stacked(gap, previous)).view(b, c)
        att = self.fc(context) if hasattr(self, 'fc') else context.sigmoid()
        return x * att.view(b, c, 1, 1), gap * att


class AuthorsGC(nn.Module):
    """``RContextBlock2d`` (attention pooling, channel add)."""

    def __init__(self, in_channels, channels):
        super().__init__()
        hidden = channels // 16

        def transform(cin):
            return nn.Sequential(
                nn.Conv2d(cin, hidden, 1), nn.LayerNorm([hidden, 1, 1]),
                nn.ReLU(), nn.Conv2d(hidden, channels, 1))

        self.conv_mask = nn.Conv2d(channels, 1, 1)
        self.channel_add_conv = transform(channels)
        if in_channels != channels:
            self.att_fc = transform(in_channels)
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, previous):
        b, c, h, w = x.shape
        mask = self.conv_mask(x).view(b, 1, h * w).softmax(-1)
        context = (x.view(b, c, h * w) * mask).sum(-1).view(b, c, 1, 1)
        if previous is not None:
            if hasattr(self, 'att_fc'):
                previous = self.att_fc(previous)
            context = context + self.weight * previous
        term = self.channel_add_conv(context)
        return x + term, term


class AuthorsChannelGate(nn.Module):

    def __init__(self, in_channels, channels):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Flatten(), nn.Linear(channels, channels // 16), nn.ReLU(),
            nn.Linear(channels // 16, channels))
        if in_channels != channels:
            self.att_fc = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1), nn.BatchNorm2d(channels),
                nn.ReLU())
        self.alpha = connection(channels, bias=False)

    def forward(self, x, previous):
        b, c = x.shape[:2]
        if previous is not None and hasattr(self, 'att_fc'):
            previous = self.att_fc(previous)
        logits = 0
        for pool in (lambda t: t.mean((2, 3)), lambda t: t.amax((2, 3))):
            descriptor = pool(x)
            if previous is not None:
                descriptor = self.alpha(
                    stacked(descriptor, pool(previous))).view(b, c)
            logits = logits + self.mlp(descriptor)
        return x * logits.sigmoid().view(b, c, 1, 1)


class AuthorsConvBN(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(1, momentum=0.01)

    def forward(self, x):
        return self.bn(self.conv(x))


class AuthorsSpatialGate(nn.Module):

    def __init__(self):
        super().__init__()
        self.spatial = AuthorsConvBN()
        self.p1 = nn.Parameter(torch.ones(1))
        self.p2 = nn.Parameter(torch.zeros(1))
        self.bnrelu = nn.Sequential(nn.BatchNorm2d(2), nn.ReLU())

    @staticmethod
    def compress(x):
        return torch.cat((x.amax(1, keepdim=True), x.mean(1, keepdim=True)),
                         1)

    def forward(self, x, previous):
        maps = self.compress(x)
        if previous is not None:
            ratio = previous.shape[2] // x.shape[2]
            if ratio != 1:
                previous = F.avg_pool2d(previous, ratio, ratio)
            maps = self.bnrelu(self.p1 * maps +
                               self.p2 * self.compress(previous))
        return x * self.spatial(maps).sigmoid()


class AuthorsCBAM(nn.Module):

    def __init__(self, in_channels, channels):
        super().__init__()
        self.ChannelGate = AuthorsChannelGate(in_channels, channels)
        self.SpatialGate = AuthorsSpatialGate()

    def forward(self, x, previous):
        channel_state, spatial_state = previous or (None, None)
        refined = self.ChannelGate(x, channel_state)
        out = self.SpatialGate(refined, spatial_state)
        return out, (refined, out)


PLUGINS = {
    'SE': ('se', AuthorsExcite),
    'GatherExcite': ('ge', lambda cin, c: AuthorsExcite(cin, c, False)),
    'GC': ('rgc', AuthorsGC),
    'CBAM': ('cbam', AuthorsCBAM),
}


def downsample(inplanes, channels, stride):
    if stride == 1 and inplanes == channels:
        return None
    return nn.Sequential(
        nn.Conv2d(inplanes, channels, 1, stride, bias=False),
        nn.BatchNorm2d(channels))


class AuthorsBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, attention):
        super().__init__()
        channels = planes * 4
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)
        name, build = PLUGINS[attention]
        self.name = name
        self.add_module(name, build(inplanes, channels))
        self.downsample = downsample(inplanes, channels, stride)

    def forward(self, x, previous):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out, state = getattr(self, self.name)(out, previous)
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity), state


class AuthorsBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, attention):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        name, build = PLUGINS[attention]
        self.name = name
        self.add_module(name, build(inplanes, planes))
        self.downsample = downsample(inplanes, planes, stride)

    def forward(self, x, previous):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out, state = getattr(self, self.name)(out, previous)
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity), state


class AuthorsSKBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, attention=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2g = nn.Conv2d(planes, planes, 3, stride, 2, dilation=2,
                                bias=False)
        self.bn2g = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.conv_fc1 = nn.Conv2d(planes, planes // 16, 1, bias=False)
        self.bn_fc1 = nn.BatchNorm2d(planes // 16)
        self.conv_fc2 = nn.Conv2d(planes // 16, 2 * planes, 1, bias=False)
        if inplanes == planes * 2:
            for i in (1, 2):
                self.add_module(
                    f'att_fc_{i}',
                    nn.Sequential(
                        nn.Linear(planes // 2, planes), nn.LayerNorm(planes),
                        nn.ReLU()))
        self.att_conv1 = connection(planes)
        self.att_conv2 = connection(planes)
        self.downsample = downsample(inplanes, planes * 4, stride)

    def forward(self, x, previous):
        out = F.relu(self.bn1(self.conv1(x)))
        branches = [
            F.relu(self.bn2(self.conv2(out))),
            F.relu(self.bn2g(self.conv2g(out)))
        ]
        b, c = branches[0].shape[:2]
        gaps = [u.mean((2, 3)) for u in branches]
        if previous is not None:
            for i in (0, 1):
                prev = previous[:, i]
                if hasattr(self, 'att_fc_1'):
                    prev = getattr(self, f'att_fc_{i + 1}')(prev)
                gaps[i] = getattr(self, f'att_conv{i + 1}')(
                    stacked(gaps[i], prev)).view(b, c)
        z = F.relu(self.bn_fc1(self.conv_fc1((gaps[0] + gaps[1]).view(
            b, c, 1, 1))))
        weights = self.conv_fc2(z).view(b, 2, c, 1, 1).softmax(1)
        selected = [u * weights[:, i] for i, u in enumerate(branches)]
        out = self.bn3(self.conv3(selected[0] + selected[1]))
        identity = x if self.downsample is None else self.downsample(x)
        state = torch.stack([u.mean((2, 3)) for u in selected], 1)
        return F.relu(out + identity), state


class AuthorsDCAResNet(nn.Module):

    def __init__(self, attention, depth=50, num_classes=1000):
        super().__init__()
        block, blocks = {
            18: (AuthorsBasicBlock, (2, 2, 2, 2)),
            50: (AuthorsBottleneck, (3, 4, 6, 3))
        }[depth]
        if attention == 'SK':
            block = AuthorsSKBottleneck
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        inplanes = 64
        for stage, count in enumerate(blocks):
            planes = 64 * 2**stage
            layer = []
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                layer.append(block(inplanes, planes, stride, attention))
                inplanes = planes * block.expansion
            self.add_module(f'layer{stage + 1}', nn.ModuleList(layer))
        self.fc = nn.Linear(inplanes, num_classes)

    def stages(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        state, outs = None, []
        for stage in range(1, 5):
            for block in getattr(self, f'layer{stage}'):
                x, state = block(x, state)
            outs.append(x)
        return outs

    def forward(self, x):
        return self.fc(self.stages(x)[-1].mean((2, 3)))


# The authors' connection/matching layers of the first block (unused), and
# their connection weights, which become two scalars each.
FIRST_BLOCK_DCA = re.compile(r'layer1\.0\.((se|ge)\.(conv|att_fc)\.|'
                             r'rgc\.(att_fc\.|weight$)|att_conv)')
CONNECTION_WEIGHT = re.compile(r'(\.(se|ge)\.conv|att_conv[12])\.0\.weight$')

STANDARD = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.LayerNorm)


def randomise(model, seed=1):
    """Random weights, norm affines, BN statistics and connection scalars
    (whose inits are 0 or 1), so that a misplaced tensor changes the
    output."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, 0, 0.1)
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                nn.init.normal_(module.bias, 0, 0.1)
        elif not isinstance(module, STANDARD):
            for param in module.parameters(recurse=False):
                nn.init.uniform_(param, 0.5, 1.5)
    return model.eval()


def authors_state(model):
    # Their training script wraps the model in (Distributed)DataParallel.
    return OrderedDict(
        (f'module.{k}', v) for k, v in model.state_dict().items())


def assert_same(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=1e-4,
                               atol=1e-4 * expected.abs().max().item())


def ours_for(attention, matching, depth=50, out_indices=(3, )):
    model = DCAResNet(depth, attention=dict(type=attention),
                      channel_matching=matching, out_indices=out_indices)
    model.eval()  # mmdet's ResNet.train() returns None
    return model


@pytest.fixture(scope='module', autouse=True)
def fast_cpu():
    """Random deep networks saturate some gates into denormal floats, which
    slow CPU convolutions down many times (both sides see the same zeros
    when flushed); one thread avoids spinning on a shared, busy CPU."""
    threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.set_flush_denormal(False)


@pytest.fixture(scope='module')
def authors_se():
    model = randomise(AuthorsDCAResNet('SE'))
    return model, authors_state(model)


@pytest.mark.parametrize('attention, matching, depth', [
    ('SE', '1fc', 50),
    ('SE', '1fc', 18),
    ('GatherExcite', '1fc', 50),
    ('GC', '2fc', 50),
    ('SK', '1fc', 50),
])
def test_backbone_reproduces_authors_network(attention, matching, depth,
                                             caplog):
    model = randomise(AuthorsDCAResNet(attention, depth))
    state = authors_state(model)
    caplog.set_level(logging.INFO, logger=LOGGER)
    converted = convert_dcanet_state_dict(state, attention, matching)
    assert not any(k.startswith(('fc.', 'head.')) for k in converted)
    ours = ours_for(attention, matching, depth, out_indices=(0, 1, 2, 3))
    ours.load_state_dict(converted, strict=True)

    # The authors' first-block connection (and matching) layers, unused,
    # are dropped and reported; nothing else is.
    first_dca = [k for k in state if FIRST_BLOCK_DCA.search(k)]
    assert first_dca
    splits = sum(bool(CONNECTION_WEIGHT.search(k)) for k in state
                 if k not in first_dca)  # each -> gain and alpha
    assert len(converted) == len(state) - len(first_dca) - 2 + splits
    assert 'dropped' in caplog.text and 'layer1.0' in caplog.text

    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for actual, expected in zip(ours(x), model.stages(x)):
            assert_same(actual, expected)


def test_classifier_reproduces_authors_logits(authors_se):
    from mmpretrain.registry import MODELS
    model, state = authors_se
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ours = MODELS.build(
            dict(type='ImageClassifier',
                 backbone=dict(type='DCAResNet', depth=50,
                               attention=dict(type='SE'),
                               channel_matching='1fc', out_indices=(3, )),
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=1000,
                           in_channels=2048))).eval()
    converted = convert_dcanet_state_dict(state, 'SE', classifier=True)
    assert all(k.startswith(('backbone.', 'head.fc.')) for k in converted)
    ours.load_state_dict(converted, strict=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert_same(ours(x, mode='tensor'), model(x))


@pytest.mark.parametrize('previous_channels, previous_size', [
    (None, None),  # the network's first block: plain CBAM
    (64, 8),  # connected, spatial state pooled 8x8 -> 4x4, no matching
])
def test_cbam_block_reproduces_authors(previous_channels, previous_size):
    """One DCA-CBAM block, channel and spatial states included."""
    channels = 64
    authors = randomise(AuthorsCBAM(previous_channels or 16, channels))
    block = 'layer1.0' if previous_channels is None else 'layer2.1'
    state = {
        f'module.{block}.cbam.{k}': v
        for k, v in authors.state_dict().items()
    }
    converted = convert_dcanet_state_dict(state, 'CBAM', '1fc')
    prefix = next(iter(converted)).split('connected.')[0] + 'connected.'
    ours = DCA(CBAM(channels), channels, previous_channels,
               channel_matching='1fc').eval()
    ours.load_state_dict(
        {k[len(prefix):]: v for k, v in converted.items()}, strict=True)

    torch.manual_seed(2)
    x = torch.randn(2, channels, 4, 4)
    previous, ours_state = None, AttentionState()
    if previous_channels is not None:
        previous = (torch.randn(2, previous_channels, 8, 8),
                    torch.randn(2, previous_channels, previous_size,
                                previous_size))
        # Their channel state is the refined map; ours, what the next block
        # extracts from it (its avg- and max-pooled descriptors).
        ours_state = AttentionState(dict(
            channel=ours.attention.extract_channel(previous[0]),
            spatial=previous[1]))
    with torch.no_grad():
        expected, (channel_state, spatial_state) = authors(x, previous)
        actual, new_state = ours(x, ours_state)
    assert_same(actual, expected)
    assert_same(new_state['channel'],
                ours.attention.extract_channel(channel_state))
    assert_same(new_state['spatial'], spatial_state)


def test_cbam_network_needs_allow_inexact(caplog):
    model = randomise(AuthorsDCAResNet('CBAM'))
    state = authors_state(model)
    with pytest.raises(NotImplementedError,
                       match=r'layer2\.0\.cbam\.ChannelGate\.att_fc'):
        convert_dcanet_state_dict(state, 'CBAM', '1fc')

    caplog.set_level(logging.INFO, logger=LOGGER)
    converted = convert_dcanet_state_dict(state, 'CBAM', '1fc',
                                          allow_inexact=True)
    assert 'INEXACTLY' in caplog.text
    assert "['layer2.0', 'layer3.0', 'layer4.0']" in caplog.text
    # The first block's unused layers: ChannelGate.alpha, its att_fc
    # (64 -> 256), SpatialGate.p1/p2/bnrelu.
    assert 'layer1.0.cbam.SpatialGate.p1' in caplog.text
    ours = ours_for('CBAM', '1fc', out_indices=(0, 1))
    ours.load_state_dict(converted, strict=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        (ours1, ours2), expected = ours(x), model.stages(x)
    # Stage 1 has no matching layer: exact (first block, connected blocks,
    # channel and spatial states). Stage 2 starts with an inexact matching.
    assert_same(ours1, expected[0])
    assert not torch.allclose(ours2, expected[1], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize('attention, matching', [
    ('SE', '2fc'),
    ('GatherExcite', '2fc'),
    ('CBAM', '2fc'),
    ('SK', '2fc'),
    ('GC', '1fc'),
])
def test_matchings_without_authors_layout(attention, matching):
    with pytest.raises(NotImplementedError, match='only has'):
        convert_dcanet_state_dict({}, attention, matching)


def test_invalid_arguments_and_unknown_keys():
    with pytest.raises(ValueError, match="attention='ECA'"):
        convert_dcanet_state_dict({}, 'ECA')
    with pytest.raises(ValueError, match="channel_matching='3fc'"):
        convert_dcanet_state_dict({}, 'SE', '3fc')
    state = {
        'module.conv1.weight': torch.zeros(1),
        'module.layer2.1.se.fc.0.weight': torch.zeros(4, 64),
        'module.layer2.1.se.foo': torch.zeros(1),
        'module.layer2.1.cbam.SpatialGate.p1': torch.zeros(1),
        'module.extra': torch.zeros(1),
    }
    with pytest.raises(ValueError) as error:
        convert_dcanet_state_dict(state, 'SE')
    message = str(error.value)
    assert '3 key(s)' in message
    for key in ('layer2.1.se.foo', 'layer2.1.cbam.SpatialGate.p1', 'extra'):
        assert key in message
    with pytest.raises(ValueError, match=r'shape \(1, 3, 1, 1\)'):
        convert_dcanet_state_dict(
            {'layer2.1.se.conv.0.weight': torch.zeros(1, 3, 1, 1)}, 'SE')


def test_prefix():
    state = {'conv1.weight': torch.zeros(1), 'fc.bias': torch.zeros(1),
             'layer2.1.se.conv.0.weight': torch.arange(2.).view(1, 2, 1, 1)}
    converted = convert_dcanet_state_dict(state, 'SE', with_prefix=True)
    assert list(converted) == [
        'backbone.conv1.weight',
        'backbone.layer2.1.connected.connect.channel.gain',
        'backbone.layer2.1.connected.connect.channel.alpha'
    ]
    assert converted['backbone.layer2.1.connected.connect.channel.alpha'] \
        .tolist() == [1.0]


def test_command_line_tool(tmp_path, monkeypatch, caplog):
    model = randomise(AuthorsDCAResNet('SE', depth=18, num_classes=3))
    state = authors_state(model)
    src, dst = tmp_path / 'dca_se.pth.tar', tmp_path / 'converted.pth'
    torch.save(dict(epoch=1, arch='dca_se_resnet18', state_dict=state), src)
    tool = osp.join(REPO_ROOT, 'tools', 'model_converters',
                    'dcanet_to_mmattn.py')
    monkeypatch.setattr(sys, 'argv', [
        tool, str(src), str(dst), '--attention', 'SE', '--classifier'])
    caplog.set_level(logging.INFO, logger=LOGGER)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(tool, run_name='__main__')
    assert exit_info.value.code == 0
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert 'head.fc.weight' in converted
    assert 'backbone.layer2.0.connected.match.channel.0.weight' in converted
    assert not any(k.startswith('backbone.layer1.0.connected.connect')
                   for k in converted)
    assert 'layer1.0.se.conv.0.weight' in caplog.text
