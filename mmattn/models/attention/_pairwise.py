"""Pairwise (position) attention without the N×M affinity matrix.

Shared by :class:`DAPositionAttention`, :class:`NonLocal` and
:class:`DMSAUnit`. At detection resolution the affinity of one map is far too
large to hold (stage 1 of an 800×1333 image: 67,200 positions, an 18 GB float32
matrix), so the modules call :func:`pairwise_attention`, which never builds it.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def pairwise_attention(query: Tensor,
                       key: Tensor,
                       value: Tensor,
                       scale: float = 1.0,
                       chunk_size: Optional[int] = 2048) -> Tensor:
    """``softmax(scale · Q Kᵀ) V`` row by row, without the (N, M) matrix.

    Args:
        query (Tensor): (B, N, d).
        key (Tensor): (B, M, d).
        value (Tensor): (B, M, dv).
        scale (float): Multiplier of the dot products (1.0 for DANet and the
            embedded-Gaussian non-local block, which do not scale).
        chunk_size (int, optional): Queries per
            :func:`~torch.nn.functional.scaled_dot_product_attention` call;
            ``None`` makes one call.

    Returns:
        Tensor: (B, N, dv).

    Two things keep memory bounded whatever the kernel SDPA picks:

    * q and k are zero-padded to the width of v (or v to theirs). Padding
      leaves every dot product unchanged, and equal widths are what CPU SDPA
      needs to use its fused flash kernel; with unequal widths it falls back
      to the math path, which materialises the full matrix (3 GB at 16,800
      positions), keeps it for the backward pass when training, and is
      up to 10× slower when v is narrow (DMSA's few channels per group).
    * queries go through in chunks, so that even the math path (other devices,
      unsupported dtypes or sizes) holds at most ``chunk_size × M`` scores
      per batch element.

    While tracing (``torch.jit.trace``, ``torch.onnx.export(dynamo=False)``)
    the queries go through in one call: a Python loop over
    ``ceil(N / chunk_size)`` chunks would be recorded with the chunk count of
    the example input, so an exported graph would fail on any input with
    more positions. The values are the same; the exported attention holds
    the (N, M) matrix (an ONNX runtime's business).
    """
    width = max(query.size(-1), value.size(-1))
    # contiguous(): SDPA's fused kernels need a unit stride on the last dim.
    query, key, value_padded = (
        F.pad(t, (0, width - t.size(-1))).contiguous()
        for t in (query, key, value))
    # The fused CPU kernel only accepts (B, heads, L, E) inputs.
    query, key, value_padded = (
        t.unsqueeze(1) for t in (query, key, value_padded))
    if chunk_size is None or torch.jit.is_tracing():
        out = F.scaled_dot_product_attention(
            query, key, value_padded, scale=scale)
    else:
        out = torch.cat([
            F.scaled_dot_product_attention(
                query[:, :, start:start + chunk_size], key, value_padded,
                scale=scale)
            for start in range(0, query.size(2), chunk_size)
        ], dim=2)
    return out.squeeze(1)[..., :value.size(-1)]


def attend_positions(x: Tensor, query: nn.Conv2d, key: nn.Conv2d,
                     value: nn.Conv2d, scale: float = 1.0,
                     chunk_size: Optional[int] = 2048) -> Tensor:
    """Position attention over the H·W positions of x (B, C, H, W), with
    the 1×1 convs ``query``, ``key`` and ``value`` as projections:
    ``softmax(scale·QKᵀ)·V`` (:func:`pairwise_attention`) as a
    (B, C_v, H, W) map.

    The projections run as products with the positions as rows, the layout
    the attention takes: oneDNN's 1×1 convs are slow for the few channels of
    DMSA's unit, and the (B, C, N) -> (B, N, C) copies disappear.
    """
    batch, channels, height, width = x.shape
    rows = x.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
    q, k, v = (F.linear(rows, conv.weight.flatten(1), conv.bias)
               for conv in (query, key, value))
    out = pairwise_attention(q, k, v, scale, chunk_size)
    return out.transpose(1, 2).reshape(batch, -1, height, width)


def _reference_attention(query: Tensor, key: Tensor, value: Tensor,
                         scale: float = 1.0) -> Tensor:
    """The definition :func:`pairwise_attention` computes, with the full
    (B, N, M) matrix; for tests and benchmarks only, never for the modules."""
    attn = torch.softmax(scale * query @ key.transpose(1, 2), dim=-1)
    return attn @ value
