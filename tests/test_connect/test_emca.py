"""EMCA module: hand-computed outputs on tiny cases, parameters, errors."""
import math

import pytest
import torch

from mmattn.models.connect import EMCA, AttentionState
from mmattn.models.connect.emca import squeeze
from mmattn.models.utils import eca_kernel_size


def set_(param, values):
    with torch.no_grad():
        param.copy_(torch.tensor(values, dtype=param.dtype).reshape(
            param.shape))


def eca_by_hand(vector, kernel):
    """1-D convolution across channels, zero padded, then sigmoid."""
    k = len(kernel)
    padded = [0.0] * (k // 2) + vector + [0.0] * (k // 2)
    return [
        1 / (1 + math.exp(-sum(kernel[j] * padded[c + j] for j in range(k))))
        for c in range(len(vector))
    ]


def test_eca_variant_by_hand_with_tiled_preceding_features():
    # C=4; one preceding block with 2 channels (tiled to [p0, p1, p0, p1]),
    # so R=2 and the MAB has two weights.
    emca = EMCA(4, dict(prev=2), excitation='ECA',
                excitation_cfg=dict(kernel_size=3))
    w_current, w_prev = 0.5, -1.0
    set_(emca.aggregate.weight, [w_current, w_prev])
    kernel = [0.2, 1.0, -0.3]
    set_(emca.excite.conv.weight, kernel)
    x = torch.tensor([[[[1., 3.], [5., 7.]],     # GAP 4
                       [[-2., 0.], [0., -2.]],   # GAP -1
                       [[0., 0.], [1., 1.]],     # GAP 0.5
                       [[2., 2.], [2., 2.]]]])   # GAP 2
    prev = [1.0, -3.0]
    state = AttentionState(dict(prev=torch.tensor([[[prev[0]], [prev[1]]]])))

    s = [4.0, -1.0, 0.5, 2.0]
    tiled = [prev[0], prev[1], prev[0], prev[1]]
    aggregated = [max(0.0, w_current * s[c] + w_prev * tiled[c])
                  for c in range(4)]
    assert aggregated == [1.0, 2.5, 0.0, 4.0]
    z = eca_by_hand(aggregated, kernel)

    y, new_state = emca(x, state)
    assert new_state is state
    expected = x * torch.tensor(z).reshape(1, 4, 1, 1)
    torch.testing.assert_close(y, expected)


def test_se_variant_by_hand():
    # C=4, reduction 2 -> hidden 2; two preceding blocks of 4 and 1
    # channels (the 1-channel one is repeated 4 times), R=3.
    emca = EMCA(4, dict(a=4, b=1), excitation='SE',
                excitation_cfg=dict(reduction=2))
    weights = [1.0, 0.5, -0.25]
    set_(emca.aggregate.weight, weights)
    w1 = [[1., 0., -1., 0.5], [0., 1., 1., -1.]]
    b1 = [0.1, -0.2]
    w2 = [[1., -1.], [0.5, 0.], [0., 2.], [-1., 1.]]
    b2 = [0., 0.1, -0.1, 0.2]
    set_(emca.excite.fc1.weight, w1)
    set_(emca.excite.fc1.bias, b1)
    set_(emca.excite.fc2.weight, w2)
    set_(emca.excite.fc2.bias, b2)
    x = torch.randn(1, 4, 3, 3)
    a = [0.3, -0.7, 1.2, 0.0]
    b = [2.0]
    state = AttentionState(dict(a=torch.tensor(a).reshape(1, 4, 1),
                                b=torch.tensor(b).reshape(1, 1, 1),
                                unrelated=None))

    s = x.mean((2, 3))[0].tolist()
    aggregated = [
        max(0.0, weights[0] * s[c] + weights[1] * a[c] + weights[2] * b[0])
        for c in range(4)
    ]
    hidden = [max(0.0, sum(w1[h][c] * aggregated[c] for c in range(4)) +
                  b1[h]) for h in range(2)]
    z = [1 / (1 + math.exp(-(sum(w2[c][h] * hidden[h] for h in range(2)) +
                             b2[c]))) for c in range(4)]

    y, _ = emca(x, state)
    torch.testing.assert_close(y, x * torch.tensor(z).reshape(1, 4, 1, 1))


def test_srm_variant_aggregates_mean_and_std_alike():
    emca = EMCA(2, dict(prev=2), excitation='SRM').eval()
    w_current, w_prev = 1.0, 0.5
    set_(emca.aggregate.weight, [w_current, w_prev])
    cfc = [[2.0, -1.0], [0.5, 1.0]]  # per channel: (mean, std) weights
    set_(emca.excite.cfc.weight, cfc)
    gamma, beta = [1.5, -0.5], [0.1, 0.2]
    set_(emca.excite.bn.weight, gamma)
    set_(emca.excite.bn.bias, beta)
    x = torch.tensor([[[[0., 2.], [4., 6.]], [[1., 1.], [1., 1.]]]])
    eps = emca.excite.eps
    # Preceding descriptors hold (mean, std) per channel as well.
    prev = [[1.0, 2.0], [-4.0, 0.5]]
    state = AttentionState(dict(prev=torch.tensor([prev])))

    mean = [3.0, 1.0]
    std = [math.sqrt(5.0 + eps), math.sqrt(eps)]
    stats = [[mean[c], std[c]] for c in range(2)]
    aggregated = [[max(0.0, w_current * stats[c][k] + w_prev * prev[c][k])
                   for k in range(2)] for c in range(2)]
    bn_eps = emca.excite.bn.eps
    z = []
    for c in range(2):
        u = cfc[c][0] * aggregated[c][0] + cfc[c][1] * aggregated[c][1]
        u = u / math.sqrt(1 + bn_eps) * gamma[c] + beta[c]
        z.append(1 / (1 + math.exp(-u)))

    y, _ = emca(x, state)
    torch.testing.assert_close(y, x * torch.tensor(z).reshape(1, 2, 1, 1))
    assert emca.excite.extract(x).shape == (1, 2, 2)


def test_authors_refine_fuses_local_and_multiscale_scores():
    emca = EMCA(4, dict(prev=4), excitation='ECA', refine='authors',
                excitation_cfg=dict(kernel_size=3))
    set_(emca.aggregate.weight, [1.0, 1.0])
    global_kernel, local_kernel = [0.1, 0.9, 0.1], [-0.5, 1.0, 0.5]
    set_(emca.excite.conv.weight, global_kernel)
    set_(emca.local_excite.conv.weight, local_kernel)
    w_local, w_global = 2.0, -1.0
    set_(emca.fuse.weight, [w_local, w_global])
    x = torch.randn(1, 4, 2, 2)
    prev = [0.5, 1.0, -2.0, 3.0]
    state = AttentionState(dict(prev=torch.tensor(prev).reshape(1, 4, 1)))

    s = x.mean((2, 3))[0].tolist()
    z_global = eca_by_hand([max(0.0, s[c] + prev[c]) for c in range(4)],
                           global_kernel)
    z_local = eca_by_hand(s, local_kernel)
    fused = [1 / (1 + math.exp(-(w_local * z_local[c] +
                                 w_global * z_global[c]))) for c in range(4)]

    y, _ = emca(x, state)
    expected = x * (1 + torch.tensor(fused).reshape(1, 4, 1, 1))
    torch.testing.assert_close(y, expected)


def test_channels_not_a_multiple_are_tiled_then_cut():
    # C=5 from 2 channels: [p0, p1, p0, p1, p0]; from 8 channels: first 5.
    emca = EMCA(5, dict(narrow=2, wide=8), excitation='ECA')
    narrow = torch.tensor([[[1.], [2.]]])
    wide = torch.arange(8.).reshape(1, 8, 1)
    aligned = emca._preceding(AttentionState(dict(narrow=narrow, wide=wide)))
    assert aligned[0].flatten().tolist() == [1., 2., 1., 2., 1.]
    assert aligned[1].flatten().tolist() == [0., 1., 2., 3., 4.]
    y, _ = emca(torch.randn(2, 5, 3, 3),
                AttentionState(dict(narrow=narrow.repeat(2, 1, 1),
                                    wide=wide.repeat(2, 1, 1))))
    assert y.shape == (2, 5, 3, 3)


@pytest.mark.parametrize('excitation,channels,expected', [
    # MAB: R weights. SE (mmattn's, with biases): 2·C·C/16 + C/16 + C.
    ('SE', 256, 3 + 2 * 256 * 16 + 16 + 256),
    # ECA: k = eca_kernel_size(C) weights (5 for C=256).
    ('ECA', 256, 3 + 5),
    # SRM: channel-wise FC 2C + BN affine 2C.
    ('SRM', 256, 3 + 4 * 256),
])
def test_parameter_count(excitation, channels, expected):
    assert eca_kernel_size(256) == 5
    emca = EMCA(channels, dict(a=64, b=128), excitation=excitation)
    assert emca.coverage == 3
    assert sum(p.numel() for p in emca.parameters()) == expected
    authors = EMCA(channels, dict(a=64, b=128), excitation=excitation,
                   refine='authors')
    # A second (local) excitation and the 2 fusion weights.
    assert sum(p.numel() for p in authors.parameters()) == \
        2 * expected - 3 + 2


@pytest.mark.parametrize('excitation', ['SE', 'ECA', 'SRM'])
@pytest.mark.parametrize('refine', ['paper', 'authors'])
def test_every_parameter_gets_a_gradient(excitation, refine):
    emca = EMCA(32, dict(a=16, b=32), excitation=excitation, refine=refine)
    with torch.no_grad():
        # Positive weights, so that ReLU passes gradients and SRM's
        # zero-initialised channel-wise FC does not block them.
        for param in emca.parameters():
            param.uniform_(0.1, 1.0)
    x = torch.randn(2, 32, 4, 4, requires_grad=True)
    excitation = emca.excitation
    state = AttentionState(dict(
        a=squeeze(torch.randn(2, 16, 8, 8), excitation).requires_grad_(),
        b=squeeze(torch.randn(2, 32, 4, 4), excitation).requires_grad_()))
    y, _ = emca(x, state)
    y.square().sum().backward()
    for name, param in emca.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert state['a'].grad.abs().sum() > 0


def test_missing_state_entry_is_named():
    emca = EMCA(32, dict(stem=4))
    with pytest.raises(KeyError,
                       match=r"EMCA: the attention state lacks 'stem'"):
        emca(torch.randn(1, 32, 2, 2), AttentionState())


@pytest.mark.parametrize('kwargs,message', [
    (dict(excitation='CBAM'),
     r"EMCA: excitation='CBAM' is invalid; it must be one of "
     r"\('SE', 'ECA', 'SRM'\)"),
    (dict(refine='residual'),
     r"EMCA: refine='residual' is invalid; it must be one of "
     r"\('paper', 'authors'\)"),
    (dict(preceding=dict(stem=0)),
     r"EMCA: preceding\['stem'\]=0 is invalid; it must be an integer >= 1"),
    (dict(in_channels=0), r'EMCA: in_channels=0 is invalid'),
])
def test_invalid_arguments_are_rejected(kwargs, message):
    args = dict(in_channels=32, preceding=dict(stem=4))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        EMCA(**args)
