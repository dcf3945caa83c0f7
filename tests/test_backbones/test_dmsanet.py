import pytest

from mmattn.models.backbones import DMSANet


# mmattn's DMSANet = EPSANet (Small) + one DMSAUnit per DMSA, the unit
# having c² + 3c + 2d(c + 1) + 2 parameters (c = C'/8 with the default
# attn_groups=4, d = max(1, c // 8)): 22,561,715 + 1,984 for -50 and
# 38,900,279 + 3,820 for -101. The paper reports 26.25M / 42.29M; its extra
# 3.69M (-50) exceeds its extra 3.39M (-101), so it cannot come from a module
# in every block. Pinned exactly so that a change of the module is noticed.
@pytest.mark.parametrize('depth,ours,paper', [(50, 22_563_699, 26.25e6),
                                              (101, 38_904_099, 42.29e6)])
def test_parameter_count(imagenet_params, depth, ours, paper):
    count = imagenet_params(dict(type='DMSANet', depth=depth,
                                 out_indices=(3, )))
    assert count == ours
    assert paper - count > 3e6


def test_every_conv2_is_dmsa_and_takes_dmsa_cfg():
    model = DMSANet(50, dmsa_cfg=dict(norm='GN', attn_groups=2))
    blocks = [b for name in model.res_layers for b in getattr(model, name)]
    assert len(blocks) == 16
    assert all(type(b.conv2).__name__ == 'DMSA' for b in blocks)
    assert blocks[0].conv2.dual_attention.groups == 2


def test_invalid_depth():
    with pytest.raises(ValueError, match='DMSANet: depth=152 is invalid'):
        DMSANet(152)


def test_classifier_forward(check_classifier_forward):
    check_classifier_forward(dict(type='DMSANet', depth=50,
                                  out_indices=(3, )))


def test_every_parameter_gets_a_gradient(check_gradients):
    check_gradients(dict(type='DMSANet', depth=50))


def test_frozen_stages_freeze_dmsa(check_frozen_stages):
    check_frozen_stages(dict(type='DMSANet', depth=50),
                        'conv2.dual_attention.')


def test_with_cp_matches(check_with_cp):
    check_with_cp(dict(type='DMSANet', depth=50, out_indices=(3, )))
