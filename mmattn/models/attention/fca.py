"""Multi-spectral channel attention (Qin, Zhang, Wu and Li, "FcaNet: Frequency
Channel Attention Networks", ICCV 2021)."""
import math
from typing import List, Tuple

import torch
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import (MAX_KERNEL_SIZE, adaptive_pool_matrix,
                                 check_at_most, check_choice, check_divisible)
from mmattn.registry import PLUGIN, register

# The authors' frequency rankings on the 7×7 DCT grid (u along H, v along
# W), from their single-frequency ImageNet study: 'top' best first, 'low'
# lowest first, 'bot' worst first. A method 'top16' takes the first 16.
_FREQ_INDICES = {
    'top': ([0, 0, 6, 0, 0, 1, 1, 4, 5, 1, 3, 0, 0, 0, 3, 2,
             4, 6, 3, 5, 5, 2, 6, 5, 5, 3, 3, 4, 2, 2, 6, 1],
            [0, 1, 0, 5, 2, 0, 2, 0, 0, 6, 0, 4, 6, 3, 5, 2,
             6, 3, 3, 3, 5, 1, 1, 2, 4, 2, 1, 1, 3, 0, 5, 3]),
    'low': ([0, 0, 1, 1, 0, 2, 2, 1, 2, 0, 3, 4, 0, 1, 3, 0,
             1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4],
            [0, 1, 0, 1, 2, 0, 1, 2, 2, 3, 0, 0, 4, 3, 1, 5,
             4, 3, 2, 1, 0, 6, 5, 4, 3, 2, 1, 0, 6, 5, 4, 3]),
    'bot': ([6, 1, 3, 3, 2, 4, 1, 2, 4, 4, 5, 1, 4, 6, 2, 5,
             6, 1, 6, 2, 2, 4, 3, 3, 5, 5, 6, 2, 5, 5, 3, 6],
            [6, 4, 4, 6, 6, 3, 1, 4, 4, 5, 6, 5, 2, 2, 5, 1,
             4, 3, 5, 0, 3, 1, 1, 2, 4, 2, 1, 1, 5, 3, 3, 3]),
}
FREQ_SEL_METHODS = tuple(f'{kind}{n}' for kind in _FREQ_INDICES
                         for n in (1, 2, 4, 8, 16, 32))


def freq_indices(method: str) -> Tuple[List[int], List[int]]:
    """The (u, v) frequencies on the 7×7 grid chosen by ``method``."""
    num_freq = int(method[3:])
    u, v = _FREQ_INDICES[method[:3]]
    return u[:num_freq], v[:num_freq]


def dct_basis_1d(length: int, freq: int) -> Tensor:
    """Orthonormal DCT-II basis vector of ``freq`` over ``length`` points."""
    pos = torch.arange(length, dtype=torch.float64)
    basis = torch.cos(math.pi * freq * (pos + 0.5) / length)
    return basis * (math.sqrt(1 / length) if freq == 0 else
                    math.sqrt(2 / length))


@register(PLUGIN)
class MultiSpectralAttention(AttentionModule):
    """FcaNet multi-spectral channel attention.

    SE's global average pooling is the lowest DCT frequency (up to a scale);
    FcaNet pools with several. The C channels are split into n equal parts,
    part i is pooled with the 2D DCT basis of frequency (u_i, v_i):
    ``Freq_i = Σ_{h,w} X_i[:, h, w]·B_{u_i}(h)·B_{v_i}(w)`` with the
    orthonormal basis ``B_u(t) = c_u·cos(π·u·(t + 1/2)/N)`` (c_0 = √(1/N),
    c_u = √(2/N)). ``Freq = cat(Freq_i)`` then goes through the SE
    excitation ``σ(W2·δ(W1·Freq))`` (FCs without bias, reduction r) and the
    output is ``x·att``.

    The DCT filters are a fixed buffer of shape (n, dct_h, dct_w) built from
    the authors' frequency tables on the 7×7 grid, scaled by dct_h/7 and
    dct_w/7 for larger grids (the authors use 56/28/14/7 for ResNet stages
    1-4). An input whose size is not (dct_h, dct_w) is, as in the authors'
    code, average-pooled adaptively to (dct_h, dct_w) first. Pooling and DCT
    are both linear, so the pooling is folded into the filters as
    ``P_hᵀ·B·P_w`` (P the adaptive-pooling matrices): exactly the authors'
    result for every input size ≥ 1×1, no pooled copy of the input, and no
    adaptive pooling to a non-1 size (which ONNX cannot export).

    Parameters per module: ``2·C·⌊C/r⌋`` (``2·C²/r`` when r divides C).

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), where the authors place it.

    Args:
        in_channels (int): Channels C; must be divisible by the number of
            frequencies.
        reduction (int): Reduction ratio r of the FCs. Default: 16.
        dct_h (int): DCT grid height, a multiple of 7. Default: 7.
        dct_w (int): DCT grid width, a multiple of 7. Default: 7.
        freq_sel_method (str): ``'top'``, ``'low'`` or ``'bot'`` followed by
            the number of frequencies (1, 2, 4, 8, 16 or 32).
            Default: ``'top16'``, the paper's choice.
        init_cfg (dict, optional): mmengine init config. By default the FCs
            keep PyTorch's default initialisation (as in the authors' code),
            re-applied in :meth:`init_weights`.
    """

    _abbr_ = 'fca'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 dct_h: int = 7,
                 dct_w: int = 7,
                 freq_sel_method: str = 'top16',
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        module = 'MultiSpectralAttention'
        check_choice(module, 'freq_sel_method', freq_sel_method,
                     FREQ_SEL_METHODS)
        for argument, size in (('dct_h', dct_h), ('dct_w', dct_w)):
            check_at_most(module, argument, size, MAX_KERNEL_SIZE,
                          'MAX_KERNEL_SIZE')
            check_divisible(module, argument, size, 7, 'table_grid')
        freq_u, freq_v = freq_indices(freq_sel_method)
        check_divisible(module, 'in_channels', in_channels, len(freq_u),
                        f'the number of frequencies of {freq_sel_method!r}')
        self.check_reduction(reduction)
        self.dct_h = dct_h
        self.dct_w = dct_w
        filters = torch.stack([
            torch.outer(dct_basis_1d(dct_h, u * (dct_h // 7)),
                        dct_basis_1d(dct_w, v * (dct_w // 7)))
            for u, v in zip(freq_u, freq_v)
        ])
        # Derived from the hyper-parameters: kept out of checkpoints.
        self.register_buffer(
            'dct_filters', filters.float(), persistent=False)
        hidden = in_channels // reduction
        self.fc1 = nn.Linear(in_channels, hidden, bias=False)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, in_channels, bias=False)

    def reset_parameters(self) -> None:
        self.fc1.reset_parameters()
        self.fc2.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        batch, channels, height, width = x.shape
        filters = self.dct_filters
        # While tracing (ONNX export) always pool: a size comparison would be
        # recorded as a constant, and pooling to the same size is the
        # identity, exactly.
        if torch.jit.is_tracing() or (height, width) != (self.dct_h,
                                                          self.dct_w):
            pool_h = adaptive_pool_matrix(self.dct_h, height, filters)
            pool_w = adaptive_pool_matrix(self.dct_w, width, filters)
            filters = pool_h.t() @ filters @ pool_w
        num_freq = filters.shape[0]
        # Channel part i (C/n consecutive channels) uses filter i. Filter as
        # a row vector times xᵀ: on CPU several times faster than x times a
        # column vector, and than the authors' multiply-then-sum.
        freq = torch.matmul(
            filters.reshape(num_freq, 1, height * width),
            x.reshape(batch, num_freq, channels // num_freq,
                      height * width).transpose(2, 3))
        att = self.fc2(self.act(self.fc1(freq.reshape(batch, channels))))
        return x * att.sigmoid().reshape(batch, channels, 1, 1)
