import pytest
import torch
from torch.nn import functional as F

from mmattn.models.attention import SK
from mmattn.models.utils import MAX_CHANNELS, MAX_KERNEL_SIZE
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               assert_same_function, is_cfg, is_channels,
                               is_positive_int, randomise)


def sk_parameters(in_channels, out_channels, branches=2, groups=32,
                  reduction=16, min_channels=32):
    # M·(in·C·9/G + 2C) (branch convs without bias, BN) + C·d + 2d (fuse FC
    # without bias, BN) + d·M·C (select FCs A_i without bias),
    # d = max(C/r, L).
    d = max(out_channels // reduction, min_channels)
    return (branches * (in_channels // groups * out_channels * 9
                        + 2 * out_channels)
            + out_channels * d + 2 * d + d * branches * out_channels)


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('in_channels,out_channels,kwargs', [
    (128, 128, {}),                       # SKNet-50 stage 1
    (1024, 1024, {}),                     # SKNet-50 stage 4, d = C/r
    (64, 64, dict(groups=1, min_channels=1)),  # DCA paper's SK-ResNet-50
    (64, 96, dict(branches=3, groups=16, reduction=4, min_channels=8)),
])
def test_parameter_count_matches_formula(in_channels, out_channels, kwargs):
    module = SK(in_channels, out_channels, **kwargs)
    assert count(module) == sk_parameters(in_channels, out_channels, **kwargs)


def reference_sk(module, x):
    """The paper's eqs. 1-6 literally, from the module's weights."""
    def bn(y, norm):
        return F.batch_norm(y, norm.running_mean, norm.running_var,
                            norm.weight, norm.bias, training=False)

    branches = []
    for i, (conv, norm) in enumerate(zip(module.convs, module.norms)):
        y = F.conv2d(x, conv.weight, stride=conv.stride, padding=i + 1,
                     dilation=i + 1, groups=conv.groups)
        branches.append(torch.relu(bn(y, norm)))
    s = sum(branches).mean((2, 3))                                # eqs. 1-2
    z = torch.relu(bn((s @ module.fc1.weight.flatten(1).t())[..., None,
                                                            None],
                      module.fc_norm).flatten(1))                 # eqs. 3-4
    rows = module.fc2.weight.flatten(1).chunk(len(branches))      # A, B, ...
    exp = [torch.exp(z @ a.t()) for a in rows]                    # eq. 5
    total = sum(exp)
    return sum(u * (e / total)[:, :, None, None]                  # eq. 6
               for u, e in zip(branches, exp))


@pytest.mark.parametrize('stride,branches', [(1, 2), (2, 2), (1, 3)])
def test_forward_matches_paper_equations(stride, branches):
    module = SK(16, 32, stride=stride, branches=branches, groups=4,
                reduction=4, min_channels=4)
    module.init_weights()
    for norm in (*module.norms, module.fc_norm):
        norm.running_mean.normal_()
        norm.running_var.uniform_(0.5, 2)
        norm.weight.data.normal_()
        norm.bias.data.normal_()
    module.eval()
    x = torch.randn(3, 16, 9, 6)
    out = module(x)
    assert out.shape == (3, 32, (9 + stride - 1) // stride,
                         (6 + stride - 1) // stride)
    torch.testing.assert_close(out, reference_sk(module, x))


def test_gradients_match_paper_equations_with_thin_groups():
    # SKNet's 32 groups on 64 channels: 2 per group, merged on CPU.
    module = randomise(SK(64, 64, groups=32), std=0.3).eval()
    assert_same_function(module, reference_sk, torch.randn(2, 64, 7, 6))


def test_connectable_steps():
    module = SK(32, 64).eval()
    x = torch.randn(2, 32, 5, 7)
    u = module.split(x)
    assert u.shape == (2, 2, 64, 5, 7)
    context = module.extract(u)
    # The per-branch GAPs sum to the paper's s = GAP(U_1 + U_2).
    torch.testing.assert_close(context.sum(1), u.sum(1).mean((2, 3)))
    weights = module.transform(context)
    assert weights.shape == (2, 2, 64)
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 64))
    out = module.fuse(u, weights)
    torch.testing.assert_close(out, module(x))
    # DCA's state, the per-branch GAP of the selected features a_i·U_i.
    torch.testing.assert_close(weights * context,
                               (u * weights[..., None, None]).mean((3, 4)))


@pytest.mark.parametrize('kwargs,message', [
    (dict(in_channels=48), r'SK: in_channels=48 .*groups=32'),
    (dict(out_channels=80), r'SK: out_channels=80 .*groups=32'),
    (dict(groups=0), r'SK: groups=0 .*\[1, 65536\]'),
    (dict(branches=1), r'SK: branches=1 .*>= 2'),
    (dict(reduction=0), r'SK: reduction=0 .*>= 1'),
    (dict(min_channels=0), r'SK: min_channels=0 .*\[1, 65536\]'),
    (dict(stride=0), r'SK: stride=0 .*\[1, 255\]'),
])
def test_invalid_hyper_parameters_are_rejected(kwargs, message):
    args = dict(in_channels=64, out_channels=64)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SK(**args)


VALIDATION_SPECS = {
    'SK': ValidationSpec(
        values=dict(in_channels=[4, 8, 16, 32, 6],
                    out_channels=[4, 8, 16, 32, 6],
                    stride=[OMIT, 1, 2],
                    branches=[OMIT, 2, 3, 1],
                    groups=[1, 2, 4, 32],
                    reduction=[OMIT, 1, 16],
                    min_channels=[OMIT, 1, 4],
                    norm_cfg=[OMIT, dict(type='GN', num_groups=1)]),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('out_channels', is_channels),
            argument_rule('stride',
                          lambda s: is_positive_int(s, MAX_KERNEL_SIZE), 1),
            argument_rule('groups',
                          lambda g: is_positive_int(g, MAX_CHANNELS), 32),
            ('in_channels',
             lambda kw: kw['in_channels'] % kw.get('groups', 32) == 0),
            ('out_channels',
             lambda kw: kw['out_channels'] % kw.get('groups', 32) == 0),
            argument_rule('branches', lambda b: is_positive_int(
                b, MAX_KERNEL_SIZE) and b >= 2, 2),
            argument_rule('reduction', is_positive_int, 16),
            argument_rule('min_channels', is_channels, 32),
            argument_rule('norm_cfg', is_cfg, dict(type='BN')),
        ])
}
