import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import PSA
from mmattn.models.utils import MAX_KERNEL_SIZE
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               assert_same_function, is_channels,
                               is_odd_kernel, is_positive_int)


def psa_parameters(in_channels, out_channels, kernels, groups, reduction=16):
    # Σ_i in·C'·k_i²/G_i (branch convs, no bias) + 2·C'·h + h + C' (shared
    # SEWeight with biases), C' = out/S, h = max(1, C'/r).
    branch = out_channels // len(kernels)
    hidden = max(1, branch // reduction)
    convs = sum(in_channels // g * branch * k * k
                for k, g in zip(kernels, groups))
    return convs + 2 * branch * hidden + hidden + branch


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('in_channels,out_channels,kernels,groups', [
    (64, 64, (3, 5, 7, 9), (1, 4, 8, 16)),
    (256, 512, (3, 5, 7, 9), (32, 32, 32, 32)),
    (48, 24, (3, 5, 7), (1, 2, 4)),
])
def test_parameter_count_matches_formula(in_channels, out_channels, kernels,
                                         groups):
    module = PSA(in_channels, out_channels, kernels=kernels, groups=groups)
    assert count(module) == psa_parameters(in_channels, out_channels,
                                           kernels, groups)


def test_epsanet50_small_stage_counts():
    # The conv2 replacements of EPSANet-50 (Small), (in, out) = (C, C) per
    # stage, worked out by hand: branch convs C·(C/4)·(9 + 25/4 + 49/8 + 81/16)
    # plus the SEWeight 2·C'·h + h + C' (C' = C/4, h = C'/16, at least 1).
    expected = {64: 27072 + 49, 128: 108288 + 162, 256: 433152 + 580,
                512: 1732608 + 2184}
    for channels, total in expected.items():
        assert count(PSA(channels, channels)) == total
        assert total == psa_parameters(channels, channels, (3, 5, 7, 9),
                                       (1, 4, 8, 16))


def reference_psa(module, x):
    """The paper's eqs. 4-11 literally: one SEWeight call per branch."""
    feats = [F.conv2d(x, conv.weight, None, conv.stride, conv.padding,
                      groups=conv.groups) for conv in module.convs]
    z = []
    for f in feats:
        g = f.mean((2, 3))
        hidden = torch.relu(g @ module.se_fc1.weight.flatten(1).t()
                            + module.se_fc1.bias)
        z.append(torch.sigmoid(hidden @ module.se_fc2.weight.flatten(1).t()
                               + module.se_fc2.bias))
    exp = [torch.exp(zi) for zi in z]
    total = sum(exp)
    return torch.cat([f * (e / total)[:, :, None, None]
                      for f, e in zip(feats, exp)], dim=1)


@pytest.mark.parametrize('in_channels,groups', [(64, (1, 4, 8, 16)),
                                                (128, (32, 32, 32, 32))])
def test_gradients_match_per_branch_equations(in_channels, groups):
    # EPSANet Small and Large widths: the thin groups run merged on CPU.
    module = PSA(in_channels, in_channels, groups=groups)
    for p in module.parameters():
        p.data.normal_(0, 0.1)
    assert_same_function(module, reference_psa,
                         torch.randn(2, in_channels, 9, 7))


@pytest.mark.parametrize('stride', [1, 2])
def test_forward_matches_per_branch_equations(stride):
    module = PSA(16, 32, stride=stride, kernels=(3, 5), groups=(1, 4),
                 se_reduction=4)
    module.init_weights()
    for p in module.parameters():
        p.data.normal_()  # non-trivial biases and weights
    x = torch.randn(3, 16, 7, 5)
    out = module(x)
    assert out.shape == (3, 32, (7 + stride - 1) // stride,
                         (5 + stride - 1) // stride)
    torch.testing.assert_close(out, reference_psa(module, x))


def test_output_is_in_kernel_order():
    # The channels of scale i (kernel k_i) form the i-th block of the output:
    # zeroing the 5×5 conv zeroes exactly the second block.
    module = PSA(8, 16, kernels=(3, 5), groups=(1, 1), se_reduction=4)
    module.convs[1].weight.data.zero_()
    out = module(torch.randn(2, 8, 6, 6))
    assert torch.all(out[:, 8:] == 0)
    assert torch.all(out[:, :8].abs().sum((0, 2, 3)) > 0)


def test_init_is_authors_normal():
    module = PSA(256, 256)
    module.init_weights()
    for conv in module.convs:
        k = conv.kernel_size[0]
        std = (2 / (k * k * conv.out_channels)) ** 0.5
        assert abs(conv.weight.std().item() / std - 1) < 0.05
        assert abs(conv.weight.mean().item()) < 0.05 * std


@pytest.mark.parametrize('kwargs,message', [
    (dict(kernels=(3, 4, 7, 9)), r'PSA: kernels=\(3, 4, 7, 9\) .*odd'),
    (dict(groups=(1, 4, 8)), r'PSA: groups=\(1, 4, 8\) .*4 integers >= 1, '
                             r'one per kernel'),
    (dict(out_channels=66), r'PSA: out_channels=66 .*len\(kernels\)=4'),
    (dict(in_channels=72), r'PSA: in_channels=72 .*groups\[3\]=16'),
    (dict(out_channels=32), r'PSA: out_channels=32 .*out_channels / '
                            r'len\(kernels\) = 8 .*groups\[3\]=16'),
    (dict(groups=(1, 4, 0, 16)), r'PSA: groups=\(1, 4, 0, 16\) .*>= 1'),
    (dict(se_reduction=0), r'PSA: se_reduction=0 .*>= 1'),
])
def test_invalid_hyper_parameters_are_rejected(kwargs, message):
    args = dict(in_channels=64, out_channels=64)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        PSA(**args)


def psa_rules() -> list:
    """Rules of PSA's own arguments, which DMSA checks first as well."""

    def kernels(kw):
        return kw.get('kernels', (3, 5, 7, 9))

    def groups(kw):
        return kw.get('groups', (1, 4, 8, 16))

    def branch_channels(kw):
        return kw['out_channels'] // len(kernels(kw))

    return [
        argument_rule('in_channels', is_channels),
        argument_rule('out_channels', is_channels),
        argument_rule('stride',
                      lambda s: is_positive_int(s, MAX_KERNEL_SIZE), 1),
        ('kernels', lambda kw: isinstance(kernels(kw), (list, tuple)) and
         len(kernels(kw)) > 0 and all(is_odd_kernel(k) for k in kernels(kw))),
        ('out_channels',
         lambda kw: kw['out_channels'] % len(kernels(kw)) == 0),
        ('groups', lambda kw: isinstance(groups(kw), (list, tuple)) and
         len(groups(kw)) == len(kernels(kw)) and
         all(is_positive_int(g) for g in groups(kw))),
        ('in_channels',
         lambda kw: all(kw['in_channels'] % g == 0 for g in groups(kw))),
        ('out_channels',
         lambda kw: all(branch_channels(kw) % g == 0 for g in groups(kw))),
        argument_rule('se_reduction', is_positive_int, 16),
    ]


PSA_VALUES = dict(in_channels=[16, 32, 64, 12],
                  out_channels=[16, 32, 64, 6],
                  stride=[OMIT, 1, 2],
                  kernels=[OMIT, OMIT, [1, 3, 5, 7], (3, 5), (3, 4, 7, 9)],
                  groups=[(1, 1, 1, 1), (1, 1, 1, 1), [1, 2, 4, 4], OMIT,
                          (1, 2)],
                  se_reduction=[OMIT, 1, 4, 16])

VALIDATION_SPECS = {'PSA': ValidationSpec(values=PSA_VALUES,
                                          rules=psa_rules())}
