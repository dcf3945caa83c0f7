"""DCA: the connection functions by hand, size matching, the layers a
connected / unconnected block builds, the state each attention passes on,
and errors."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import CBAM, ECA, GC, SE, SK, GatherExcite
from mmattn.models.connect import DCA, AttentionState
from mmattn.models.connect.dca import ChannelMatch, Connection, connect
from mmattn.models.utils import match_spatial
from mmattn_test_utils import randomise


def set_(param, value):
    with torch.no_grad():
        param.fill_(value)


def extra_params(dca):
    """Parameters of DCA's own layers (outside the attention)."""
    return sum(p.numel() for n, p in dca.named_parameters()
               if not n.startswith('attention.'))


# G = (1, 3) against αT̃ = (2, 2):
#   direct   1 + 2 = 3;  3 + 2 = 5
#   weighted (1 + 4) / 3 = 5/3;  (9 + 4) / 5 = 13/5
#   softmax  w = e^-1 / (e^-1 + e^-2) = 1 / (1 + e^-1) on 1, 1 - w on 2;
#            w = 1 / (1 + e) on 3, 1 - w on 2.
SIGMOID_1 = 1 / (1 + math.exp(-1))  # 0.7310586


@pytest.mark.parametrize('mode,expected', [
    ('direct', [3.0, 5.0]),
    ('weighted', [5 / 3, 13 / 5]),
    ('softmax', [SIGMOID_1 * 1 + (1 - SIGMOID_1) * 2,
                 (1 - SIGMOID_1) * 3 + SIGMOID_1 * 2]),
])
def test_connection_functions_by_hand(mode, expected):
    out = connect(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0]), mode)
    torch.testing.assert_close(out, torch.tensor(expected))
    assert expected[0] == pytest.approx(
        {'direct': 3, 'weighted': 1.6666667, 'softmax': 1.2689414}[mode])


@pytest.mark.parametrize('mode,expected', [
    # gain 2, α 0.5, bias 0.25, G = 1, T̃ = 6: p = 2, q = 3.
    ('direct', 2 + 3 + 0.25),
    ('weighted', (4 + 9) / 5 + 0.25),
    ('softmax', SIGMOID_1 * 2 + (1 - SIGMOID_1) * 3 + 0.25),
])
def test_connection_learned_scalars_by_hand(mode, expected):
    conn = Connection(mode, gain=True, bias=True, alpha=0.5)
    assert float(conn.alpha) == 0.5 and float(conn.gain) == 1.0
    assert float(conn.bias) == 0.0
    set_(conn.gain, 2.0)
    set_(conn.bias, 0.25)
    out = conn(torch.tensor([1.0]), torch.tensor([6.0]))
    torch.testing.assert_close(out, torch.tensor([expected]))


def test_connection_norm_then_relu():
    conn = Connection('direct', norm=torch.nn.LayerNorm(2))
    set_(conn.alpha, 0.0)
    # LayerNorm of (1, 3) is (-1, 1) (up to eps); ReLU keeps (0, 1).
    out = conn(torch.tensor([[[1.0, 3.0]]]), torch.zeros(1, 1, 2))
    torch.testing.assert_close(out, torch.tensor([[[0.0, 1.0]]]),
                               atol=1e-4, rtol=0)


def test_weighted_connection_stays_finite_at_zero_sum():
    out = connect(torch.tensor([0.0, 1.0]), torch.tensor([0.0, -1.0]),
                  'weighted')
    assert torch.isfinite(out).all()
    assert out[0] == 0


def test_match_spatial_divisible_is_average_pooling_by_hand():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # 2×2 windows of [[0,1,2,3],[4,5,6,7],...]: means 2.5, 4.5, 10.5, 12.5.
    torch.testing.assert_close(
        match_spatial(x, (2, 2)), torch.tensor([[[[2.5, 4.5],
                                                  [10.5, 12.5]]]]))
    assert match_spatial(x, (4, 4)) is x


@pytest.mark.parametrize('size,target', [((5, 7), (3, 4)),
                                         ((25, 38), (13, 19))])
def test_match_spatial_other_sizes_is_adaptive_average_pooling(size, target):
    x = torch.randn(2, 3, *size)
    torch.testing.assert_close(match_spatial(x, target),
                               F.adaptive_avg_pool2d(x, target))


@pytest.mark.parametrize('mode,norm_act,expected', [
    ('1fc', True, 64 * 256 + 256 + 2 * 256),
    ('1fc', False, 64 * 256 + 256),
    # 256 -> 512/16 = 32 -> LN(32) -> 512 (+ LN(512)).
    ('2fc', True, 256 * 32 + 32 + 2 * 32 + 32 * 512 + 512 + 2 * 512),
    ('2fc', False, 256 * 32 + 32 + 2 * 32 + 32 * 512 + 512),
])
def test_channel_match_parameters(mode, norm_act, expected):
    in_channels, out_channels = (64, 256) if mode == '1fc' else (256, 512)
    match = ChannelMatch(in_channels, out_channels, mode, 16, norm_act)
    assert sum(p.numel() for p in match.parameters()) == expected
    assert match(torch.randn(2, 3, in_channels)).shape == (2, 3, out_channels)


ATTENTIONS = {
    'SE': lambda: SE(32, reduction=4),
    'GatherExcite': lambda: GatherExcite(32),
    'GC': lambda: GC(32, ratio=1 / 4),
    'CBAM': lambda: CBAM(32, reduction=4),
    'SK': lambda: SK(32, 32, groups=1, reduction=4, min_channels=1),
}
STATE_SHAPES = {
    'SE': {'channel': (2, 1, 32)},
    'GatherExcite': {'channel': (2, 1, 32)},
    'GC': {'channel': (2, 1, 32)},
    'CBAM': {'channel': (2, 2, 32), 'spatial': (2, 32, 6, 5)},
    'SK': {'branches': (2, 2, 32)},
}


@pytest.mark.parametrize('name', list(ATTENTIONS))
def test_unconnected_is_the_plain_attention(name):
    attention = randomise(ATTENTIONS[name](), std=0.3).eval()
    dca = DCA(attention, 32).eval()
    assert extra_params(dca) == 0
    assert not dca.connect and not dca.match
    x = torch.randn(2, 32, 6, 5)
    out, state = dca(x, AttentionState())
    torch.testing.assert_close(out, attention(x))
    assert {k: tuple(v.shape) for k, v in state.items()} == STATE_SHAPES[name]
    # Unconnected, the incoming state is not needed (and passed through).
    out, state = dca(x, AttentionState(dict(other=x)))
    assert 'other' in state


def previous_state(name, channels=16, size=(12, 10)):
    """A state as a block with ``channels`` channels at ``size`` leaves."""
    if name == 'CBAM':
        return AttentionState(dict(channel=torch.randn(2, 2, channels),
                                   spatial=torch.randn(2, channels, *size)))
    if name == 'SK':
        return AttentionState({'branches': torch.rand(2, 2, channels)})
    return AttentionState({'channel': torch.rand(2, 1, channels)})


# Connection (gain, α, bias + norm affine) and '1fc' matching per link, for
# C = 32 after C' = 16:
CONNECTED_PARAMS = {
    'SE': (3 + 2 * 32) + (16 * 32 + 32 + 2 * 32),
    'GatherExcite': (3 + 2 * 32) + (16 * 32 + 32 + 2 * 32),
    'GC': 1 + (16 * 32 + 32),  # α only; plain FC, no norm after
    # channel: gain + α, LN(C), shared by avg/max; spatial: p1, p2, BN(2)
    'CBAM': (2 + 2 * 32) + (16 * 32 + 32 + 2 * 32) + (2 + 4),
    'SK': 2 * ((3 + 2 * 32) + (16 * 32 + 32 + 2 * 32)),  # per branch
}


@pytest.mark.parametrize('name', list(ATTENTIONS))
@pytest.mark.parametrize('connection', ['direct', 'weighted', 'softmax'])
def test_connected_layers_and_gradients(name, connection):
    dca = DCA(ATTENTIONS[name](), 32, 16, connection=connection,
              channel_matching='1fc')
    assert extra_params(dca) == CONNECTED_PARAMS[name]
    dca.train()
    x = torch.randn(2, 32, 6, 5)
    out, state = dca(x, previous_state(name))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert {k: tuple(v.shape) for k, v in state.items()} == STATE_SHAPES[name]
    (out.square().mean() + sum(s.mean() for s in state.values())).backward()
    missing = [n for n, p in dca.named_parameters() if p.grad is None]
    assert not missing


def test_same_channels_build_no_matching():
    dca = DCA(SE(32, reduction=4), 32, 32)
    assert list(dca.connect) == ['channel'] and not dca.match
    assert extra_params(dca) == 3 + 2 * 32


def test_connected_se_by_hand():
    se = randomise(SE(8, reduction=4), std=0.3).eval()
    dca = DCA(se, 8, 4, channel_matching='1fc').eval()
    conn = dca.connect['channel']
    set_(conn.gain, 0.5)
    set_(conn.alpha, 2.0)
    set_(conn.bias, 0.1)
    fc, match_norm = dca.match['channel'][0], dca.match['channel'][1]
    x = torch.randn(2, 8, 3, 3)
    prev = torch.randn(2, 1, 4)
    out, state = dca(x, AttentionState(dict(channel=prev)))

    g = x.mean((2, 3))                                    # (B, C)
    t = F.relu(match_norm(fc(prev[:, 0])))                # matched T̃
    f = F.relu(conn.norm(0.5 * g + 2.0 * t + 0.1))        # connection
    att = torch.sigmoid(se.fc2(F.relu(se.fc1(f[..., None, None]))))
    torch.testing.assert_close(out, x * att)
    torch.testing.assert_close(state['channel'][:, 0], g * att[..., 0, 0])


def test_gc_starts_as_plain_gc_then_adds_matched_state():
    gc = randomise(GC(8, ratio=1 / 4), std=0.3).eval()
    dca = DCA(gc, 8, 4).eval()  # '2fc', no norm after
    x = torch.randn(2, 8, 5, 5)
    prev = AttentionState(dict(channel=torch.randn(2, 1, 4)))
    out, state = dca(x, prev)
    assert float(dca.connect['channel'].alpha) == 0.0  # the authors' init
    torch.testing.assert_close(out, gc(x))
    torch.testing.assert_close(state['channel'][:, 0],
                               gc.transform(gc.extract(x))[..., 0, 0])
    set_(dca.connect['channel'].alpha, 1.5)
    out, _ = dca(x, prev)
    context = gc.extract(x) + 1.5 * dca.match['channel'](
        prev['channel'])[:, 0, :, None, None]
    torch.testing.assert_close(out, x + gc.channel_add_conv(context))


def test_cbam_states_are_the_refined_maps_and_spatial_is_pooled():
    cbam = randomise(CBAM(8, reduction=2), std=0.3).eval()
    dca = DCA(cbam, 8, 4).eval()
    x = torch.randn(2, 8, 6, 6)
    prev_spatial = torch.randn(2, 4, 12, 12)
    state = AttentionState(dict(channel=torch.randn(2, 2, 4),
                                spatial=prev_spatial))
    out, new_state = dca(x, state)
    torch.testing.assert_close(new_state['spatial'], out)
    # The channel state is what the next block extracts from the channel-
    # refined map F': its avg- and max-pooled descriptors.
    refined = dca._run_link(dca.links[0], x, state)[0]
    torch.testing.assert_close(new_state['channel'],
                               cbam.extract_channel(refined))
    # out = F' · M_s: F' times a (B, 1, H, W) gate.
    gate = out / refined
    torch.testing.assert_close(gate, gate[:, :1].expand_as(gate))
    # The previous (12×12) output is average-pooled to 6×6, then its channel
    # max and mean maps are taken.
    link = dca.links[1]
    pooled = F.avg_pool2d(prev_spatial, 2)
    torch.testing.assert_close(
        link.previous(cbam, prev_spatial, torch.zeros(2, 2, 6, 6)),
        torch.cat((pooled.amax(1, keepdim=True),
                   pooled.mean(1, keepdim=True)), 1))
    # The connection starts as the authors': p1 = 1, p2 = 0, BN weight 1.
    spatial = dca.connect['spatial']
    assert (float(spatial.gain), float(spatial.alpha)) == (1.0, 0.0)
    assert torch.all(spatial.norm.weight == 1)


def test_sk_state_is_branch_gap_of_selected_features():
    sk = randomise(SK(8, 8, groups=1, reduction=2, min_channels=1),
                   std=0.3).eval()
    dca = DCA(sk, 8).eval()
    x = torch.randn(2, 8, 5, 5)
    out, state = dca(x, AttentionState())
    u = sk.split(x)
    a = sk.transform(sk.extract(u))
    torch.testing.assert_close(state['branches'],
                               (u * a[..., None, None]).mean((3, 4)))
    connected = DCA(sk, 8, 4)
    assert [type(m).__name__ for m in connected.connect['branches']] == [
        'Connection', 'Connection']


def test_errors():
    with pytest.raises(ValueError, match=r'DCA: attention=ECA is invalid'):
        DCA(ECA(32), 32, 16)
    with pytest.raises(ValueError, match=r'DCA: GatherExcite extent=2'):
        DCA(GatherExcite(32, extent=2), 32)
    with pytest.raises(ValueError, match=r"DCA: connection='sum' is invalid"):
        DCA(SE(32), 32, 16, connection='sum')
    with pytest.raises(ValueError, match=r"DCA: channel_matching='3fc'"):
        DCA(SE(32), 32, 16, channel_matching='3fc')
    with pytest.raises(KeyError,
                       match=r"DCA: the attention state lacks 'channel'"):
        DCA(SE(32), 32, 16)(torch.randn(1, 32, 4, 4), AttentionState())
