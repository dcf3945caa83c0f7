"""Parameters, multiply-accumulates and elementwise work of a model.

Two kinds of work are counted, in one forward pass, and never mixed:

* **Multiply-accumulates (MACs)** of convolutions, linear layers, matrix
  products (``mm``/``addmm``/``bmm``/``baddbmm``) and scaled-dot-product
  attention, from the formulas of :mod:`torch.utils.flop_counter` (which
  count 2 FLOPs per MAC: they are halved here). One MAC is one "FLOP" in the
  papers' tables and in mmengine's counter. Reported as ``conv``, ``fc``
  (products inside ``nn.Linear``) and ``matmul`` (every other product:
  attention affinities, EMA's cross-spatial products, SDPA). Bias additions
  are not MACs.
* **Elementwise work**, which mmengine's counter and the papers skip
  (mmengine sees SE on a 256×56×56 map as 8.2 K FLOPs): for pointwise
  arithmetic (add, mul, div, where ...) and activations (ReLU, sigmoid,
  h-swish, exp, sqrt ...) the number of *output* elements; for norms
  (batch/group/layer/instance norm), softmax and pooling or reductions
  (mean, max, var, avg/max pool, GAP) the number of *input* elements read;
  for resampling (upsampling, interpolation) the output elements. Pure data
  movement (views, copies, cat, pad) and ops missing from
  :data:`ELEMENTWISE_OPS` are not counted.

Counting is :class:`torch.utils.flop_counter.FlopCounterMode`'s: its
formulas give the products' FLOPs (halved here), its per-module breakdown
tells the products inside ``nn.Linear`` from the others, and the
elementwise work is the add-on it lacks, passed as its ``custom_mapping``
(op -> elements). It runs by default on ``meta`` tensors: shapes only, no
arithmetic, so that even DMSANet's full-resolution position attention at
detection size (TFLOPs) is counted in well under a second. Detectors are
counted like mmdet's ``get_flops`` of mmdet 2.x, which the papers'
detection tables used: backbone, neck, dense heads on the whole image, and
the RoI heads on ``num_rois`` (1000) RoIs for boxes and ``num_mask_rois``
(100) for masks; RoIAlign, anchor generation, box decoding and NMS are not
counted.

Parameters are counted once per tensor (shared modules once). For detectors
``trainable`` excludes frozen parameters (stage 1 under mmdet's
``frozen_stages=1``), which is what mmcv's counter and hence the papers'
detection tables report.
"""
import contextlib
import io
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from .models import ModelSpec, build, model_forward

aten = torch.ops.aten

#: Elementwise work by category: (aten op names, what is counted: the
#: 'input' elements read or the 'output' elements written). In-place
#: variants (``relu_``) count alike.
ELEMENTWISE_OPS = {
    'norm': (('native_batch_norm', '_native_batch_norm_legit',
              '_native_batch_norm_legit_no_training',
              '_native_batch_norm_legit_functional', 'cudnn_batch_norm',
              'miopen_batch_norm', 'native_group_norm', 'native_layer_norm',
              'instance_norm', 'batch_norm', 'group_norm', 'layer_norm'),
             'input'),
    'softmax': (('_softmax', '_safe_softmax', '_log_softmax', 'softmax',
                 'log_softmax'), 'input'),
    'reduce': (('mean', 'sum', 'amax', 'amin', 'max', 'min', 'var',
                'var_mean', 'std', 'std_mean', 'prod', 'norm',
                'linalg_vector_norm', 'logsumexp', 'cumsum', 'avg_pool1d',
                'avg_pool2d', 'avg_pool3d', 'max_pool1d', 'max_pool2d',
                'max_pool3d', 'max_pool2d_with_indices',
                'max_pool3d_with_indices', 'adaptive_avg_pool1d',
                'adaptive_avg_pool2d', '_adaptive_avg_pool2d',
                'adaptive_avg_pool3d', '_adaptive_avg_pool3d',
                'adaptive_max_pool1d', 'adaptive_max_pool2d',
                'adaptive_max_pool3d'), 'input'),
    'resample': (('upsample_nearest1d', 'upsample_nearest2d',
                  'upsample_nearest3d', '_upsample_nearest_exact1d',
                  '_upsample_nearest_exact2d', 'upsample_linear1d',
                  'upsample_bilinear2d', '_upsample_bilinear2d_aa',
                  'upsample_bicubic2d', 'upsample_trilinear3d',
                  'grid_sampler_2d'), 'output'),
    'activation': (('relu', 'relu6', 'sigmoid', 'hardswish', 'hardsigmoid',
                    'silu', 'gelu', 'tanh', 'leaky_relu', 'elu', 'hardtanh',
                    'threshold', 'softplus', 'mish', 'exp', 'log', 'sqrt',
                    'rsqrt', 'reciprocal', 'clamp', 'clamp_min', 'clamp_max',
                    'abs', 'sign', 'erf', 'selu', 'celu', 'hardshrink',
                    'softshrink', 'logit', 'log1p', 'expm1', 'log2', 'exp2',
                    'sin', 'cos'), 'output'),
    'arithmetic': (('add', 'sub', 'rsub', 'mul', 'div', 'neg', 'addcmul',
                    'addcdiv', 'where', 'maximum', 'minimum', 'pow', 'lerp',
                    'masked_fill', 'square', 'floor', 'ceil', 'round', 'eq',
                    'ne', 'lt', 'le', 'gt', 'ge', 'logical_and',
                    'logical_or', 'logical_not', 'logical_xor',
                    'bitwise_and', 'bitwise_or', 'bitwise_not', 'fmod',
                    'remainder', 'trunc', 'sgn', 'fmax', 'fmin',
                    'nan_to_num', 'true_divide', 'xlogy'), 'output'),
}
ELEMENTWISE_CATEGORIES = {
    'arithmetic': 'output elements of add/sub/mul/div/where/...',
    'activation': 'output elements of ReLU/sigmoid/h-swish/exp/sqrt/...',
    'norm': 'input elements of batch/group/layer/instance norm',
    'softmax': 'input elements of softmax',
    'reduce': 'input elements of mean/max/var/sum and avg/max pooling',
    'resample': 'output elements of upsampling/interpolation',
}
MAC_CATEGORIES = {
    'conv': 'convolutions (incl. transposed)',
    'fc': 'products inside nn.Linear',
    'matmul': 'other matrix products: matmul/bmm, SDPA (attention maps)',
}
#: Fused scaled-dot-product attention kernels: matmul MACs, and the
#: softmax over the scores that the math path (meta tensors) runs as an op.
SDPA_OPS = ('_scaled_dot_product_efficient_attention',
            '_scaled_dot_product_flash_attention',
            '_scaled_dot_product_cudnn_attention',
            '_scaled_dot_product_flash_attention_for_cpu')


def _numel(shape) -> int:
    """Elements of a shape (the first one of a sequence of shapes)."""
    if isinstance(shape, torch.Size):
        return math.prod(shape)
    if isinstance(shape, (list, tuple)) and shape:
        return _numel(shape[0])
    return 0


def _ops(name: str) -> list:
    """The op and its in-place variant, where aten has them, each as its
    overload packet and overloads. FlopCounterMode looks formulas up by
    packet, but first decomposes every overload it has none for (an
    upsampling would be counted as the indexing it decomposes into)."""
    packets = [packet for packet in (getattr(aten, name, None),
                                     getattr(aten, name + '_', None))
               if packet is not None]
    return packets + [getattr(packet, overload) for packet in packets
                      for overload in packet.overloads()]


def _counts_elements(which: str) -> Callable:
    if which == 'input':
        return lambda *args, out_shape, **kwargs: _numel(args[0])
    return lambda *args, out_shape, **kwargs: _numel(out_shape)


@dataclass
class OpCounts:
    """MACs and elementwise work of one counted run, by category."""
    macs: Dict[str, int]
    elements: Dict[str, int]


class _Run(nn.Module):
    """Roots the counted run at one module, so that the counter's module
    names are ``_Run.model.<path in the model>``."""

    def __init__(self, model: nn.Module, run: Callable[[], Any]) -> None:
        super().__init__()
        self.model = model
        self.run = run

    def forward(self):
        return self.run()


def count_ops(model: nn.Module, run: Callable[[], Any]) -> OpCounts:
    """Count ``run()``, a forward pass of ``model``, without gradients."""
    category_of, mapping = {}, {}
    for category, (names, which) in ELEMENTWISE_OPS.items():
        for name in names:
            for op in _ops(name):
                category_of[op] = category
                mapping[op] = _counts_elements(which)
    sdpa_softmax = []
    efficient = flop_registry[aten._scaled_dot_product_efficient_attention]

    def sdpa(query, key, *args, out_val=None, **kwargs):
        sdpa_softmax.append(query.numel() // query.shape[-1] * key.shape[-2])
        return efficient(query, key, *args, out_val=out_val, **kwargs)

    sdpa._get_raw = True  # FlopCounterMode passes tensors, not shapes
    for name in SDPA_OPS:
        for op in _ops(name):
            mapping[op] = sdpa
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    root = _Run(model, run)
    with torch.no_grad(), counter:
        root()
    counts = counter.get_flop_counts()
    macs = dict.fromkeys(MAC_CATEGORIES, 0)
    elements = dict.fromkeys(ELEMENTWISE_CATEGORIES, 0)
    for packet, count in counts.get('Global', {}).items():
        if packet in category_of:
            elements[category_of[packet]] += count
        elif 'convolution' in packet.__name__:
            macs['conv'] += count // 2
        else:
            macs['matmul'] += count // 2
    elements['softmax'] += sum(sdpa_softmax)
    prefix = type(root).__name__ + '.'
    for name, ops in counts.items():
        if name.startswith(prefix) and isinstance(
                root.get_submodule(name[len(prefix):]), nn.Linear):
            linear = sum(count // 2 for packet, count in ops.items()
                         if packet not in category_of)
            macs['fc'] += linear
            macs['matmul'] -= linear
    return OpCounts(macs, elements)


@dataclass
class Complexity:
    """What :func:`measure` reports for one model (per forward pass of
    ``input_shape``)."""
    name: str
    kind: str
    input_shape: Tuple[int, ...]
    params: int
    trainable_params: int
    macs: Dict[str, int]
    elements: Dict[str, int]
    device: str
    num_rois: Optional[int] = None
    num_mask_rois: Optional[int] = None
    mmengine_flops: Optional[int] = None
    mmengine_params: Optional[int] = None
    notes: list = field(default_factory=list)

    @property
    def conv_fc_macs(self) -> int:
        """MACs of convolutions and linear layers: the papers' FLOPs."""
        return self.macs.get('conv', 0) + self.macs.get('fc', 0)

    @property
    def matmul_macs(self) -> int:
        return self.macs.get('matmul', 0)

    @property
    def total_macs(self) -> int:
        return sum(self.macs.values())

    @property
    def total_elements(self) -> int:
        return sum(self.elements.values())

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(conv_fc_macs=self.conv_fc_macs,
                    matmul_macs=self.matmul_macs,
                    total_macs=self.total_macs,
                    total_elements=self.total_elements)
        return data


def count_params(model: nn.Module) -> Tuple[int, int]:
    """(all, trainable) parameter counts, each tensor once."""
    params = list(model.parameters())  # deduplicated by nn.Module
    return (sum(p.numel() for p in params),
            sum(p.numel() for p in params if p.requires_grad))


def _as_list(module) -> list:
    if module is None:
        return []
    if isinstance(module, nn.ModuleList):
        return list(module)
    return [module]


def _roi_input(extractor, num: int, device) -> torch.Tensor:
    size = extractor.roi_layers[0].output_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    return torch.zeros(num, extractor.out_channels, *size, device=device)


def detector_dummy_forward(model: nn.Module, inputs: torch.Tensor,
                           num_rois: int = 1000,
                           num_mask_rois: int = 100) -> None:
    """mmdet 2.x ``forward_dummy``: features, dense heads, and the RoI heads
    on ``num_rois`` / ``num_mask_rois`` RoI features (RoIAlign itself is not
    run: it needs real boxes and is no multiply-accumulate)."""
    feats = model.extract_feat(inputs)
    for head_name in ('rpn_head', 'bbox_head'):
        head = getattr(model, head_name, None)
        if head is not None:
            head(feats)
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None:
        return
    device = inputs.device
    extractors = _as_list(getattr(roi_head, 'bbox_roi_extractor', None))
    for extractor, head in zip(extractors,
                               _as_list(getattr(roi_head, 'bbox_head',
                                                None))):
        head(_roi_input(extractor, num_rois, device))
    if getattr(roi_head, 'with_mask', False):
        extractors = _as_list(roi_head.mask_roi_extractor) or extractors
        for extractor, head in zip(extractors, _as_list(roi_head.mask_head)):
            head(_roi_input(extractor, num_mask_rois, device))


def run_counted(spec: ModelSpec, model: nn.Module, inputs: torch.Tensor,
                num_rois: int = 1000,
                num_mask_rois: int = 100) -> OpCounts:
    """Count one forward pass of ``model`` (detectors: mmdet 2.x's
    ``forward_dummy``, see :func:`detector_dummy_forward`)."""
    if spec.kind == 'detector':
        return count_ops(model, lambda: detector_dummy_forward(
            model, inputs, num_rois, num_mask_rois))
    return count_ops(model, lambda: model_forward(spec, model, inputs))


def mmengine_complexity(spec: ModelSpec, input_size: Sequence[int],
                        batch_size: int = 1) -> Tuple[int, int]:
    """mmengine's ``get_model_complexity_info`` (flops, params) of a
    classifier or backbone, on real CPU tensors (mmengine traces with
    ``torch.jit``, which meta tensors do not survive)."""
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    if spec.kind == 'detector':
        raise ValueError('mmengine comparison: classifiers and backbones '
                         'only (use mmdet get_flops for detectors)')
    model = build(spec, 'cpu')

    class _Tensor(nn.Module):

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return model_forward(spec, self.inner, x)

    inputs = torch.randn(batch_size, 3, *input_size)
    # mmengine warns about every operator it skips and prints unused
    # modules: the report says what it skips instead.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            info = get_model_complexity_info(
                _Tensor(model), inputs=(inputs, ), show_table=False,
                show_arch=False)
    finally:
        logger.setLevel(level)
    return int(info['flops']), int(info['params'])


def measure(spec: ModelSpec,
            input_size: Sequence[int] = (224, 224),
            batch_size: int = 1,
            device: str = 'meta',
            num_rois: int = 1000,
            num_mask_rois: int = 100,
            with_mmengine: bool = False) -> Complexity:
    """Count ``spec`` for one forward pass of a ``batch_size``×3×H×W input.

    Args:
        spec (ModelSpec): The model (see
            :func:`mmattn.analysis.models.resolve`).
        input_size (Sequence[int]): (H, W).
        batch_size (int): Images per forward pass. Default: 1.
        device (str): 'meta' (default; shapes only) or a real device, for
            models whose forward needs real values.
        num_rois, num_mask_rois (int): RoIs through the box / mask heads of
            two-stage detectors.
        with_mmengine (bool): Also run mmengine's counter (classifiers and
            backbones; a real forward pass on CPU).
    """
    height, width = input_size
    model = build(spec, device)
    params, trainable = count_params(model)
    inputs = torch.zeros(batch_size, 3, height, width, device=device)
    counts = run_counted(spec, model, inputs, num_rois, num_mask_rois)
    result = Complexity(
        name=spec.name,
        kind=spec.kind,
        input_shape=(batch_size, 3, height, width),
        params=params,
        trainable_params=trainable,
        macs=counts.macs,
        elements=counts.elements,
        device=device)
    if spec.kind == 'detector' and hasattr(model, 'roi_head'):
        result.num_rois = num_rois
        if getattr(model.roi_head, 'with_mask', False):
            result.num_mask_rois = num_mask_rois
    if with_mmengine:
        result.mmengine_flops, result.mmengine_params = mmengine_complexity(
            spec, input_size, batch_size)
    return result


# Formatting ---


def _g(value: Optional[int], digits: int = 3) -> str:
    return '-' if value is None else f'{value / 1e9:.{digits}f}'


def _m(value: Optional[int]) -> str:
    return '-' if value is None else f'{value / 1e6:.2f}'


def format_report(result: Complexity) -> str:
    """A plain-text report saying which number is which."""
    shape = '×'.join(str(v) for v in result.input_shape)
    lines = [f'model: {result.name} ({result.kind}), input {shape}, '
             f'counted on {result.device} tensors']
    if result.num_rois:
        rois = f'{result.num_rois} box RoIs'
        if result.num_mask_rois:
            rois += f', {result.num_mask_rois} mask RoIs'
        lines.append(f'RoI heads counted on {rois} (mmdet 2.x get_flops)')
    lines.append(f'parameters: {result.params:,} ({_m(result.params)} M); '
                 f'trainable {result.trainable_params:,} '
                 f'({_m(result.trainable_params)} M)')
    lines.append('multiply-accumulates (1 MAC = 1 FLOP, the papers\' '
                 'convention), G:')
    for key, what in MAC_CATEGORIES.items():
        lines.append(f'  {key:<8} {_g(result.macs[key], 4):>12}  {what}')
    lines.append(f'  {"conv+fc":<8} {_g(result.conv_fc_macs, 4):>12}  '
                 'what the papers\' and mmengine\'s counters report')
    lines.append(f'  {"total":<8} {_g(result.total_macs, 4):>12}  '
                 'conv + fc + matmul')
    lines.append('elementwise work, not MACs (mmengine\'s counter ignores '
                 'most of it), G elements:')
    for key, what in ELEMENTWISE_CATEGORIES.items():
        lines.append(f'  {key:<10} {_g(result.elements[key], 4):>10}  {what}')
    lines.append(f'  {"total":<10} {_g(result.total_elements, 4):>10}')
    if result.mmengine_flops is not None:
        lines.append(
            f'mmengine get_model_complexity_info: '
            f'{_g(result.mmengine_flops, 4)} G "flops" (MACs of conv/linear '
            f'plus BN, ReLU, pooling; no sigmoid, softmax, mul, mean, '
            f'matmul), {_m(result.mmengine_params)} M params')
    for note in result.notes:
        lines.append(f'note: {note}')
    return '\n'.join(lines)


def to_json(results: Sequence[Complexity]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2)


# The papers' tables ---


def _percent(ours: Optional[float], paper: Optional[float]) -> str:
    if ours is None or paper is None:
        return '-'
    return f'{(ours - paper) / paper * 100:+.1f}%'


def paper_rows(only: Optional[str] = None) -> list:
    """The rows of :data:`mmattn.analysis.paper_numbers.ROWS` (those whose
    source, label or model match the regular expression ``only``), with
    rows that several tables repeat (same model, input and numbers) merged:
    a list of (row, [sources])."""
    import re

    from .paper_numbers import ROWS
    pattern = re.compile(only, re.IGNORECASE) if only else None
    merged = {}
    for row in ROWS:
        text = ' '.join((row.source, row.label, row.model, row.short))
        if pattern is not None and not pattern.search(text):
            continue
        key = (row.model, row.input_size, row.num_classes, row.cifar_stem,
               row.params, row.gflops)
        if key in merged:
            merged[key][1].append(row.source)
        else:
            merged[key] = (row, [row.source])
    return list(merged.values())


def measure_row(row, device: str = 'meta') -> Complexity:
    """Count the model of a paper row as the paper did."""
    from .models import resolve
    spec = resolve(row.model, kind='classifier')
    spec.name = row.short
    spec.num_classes = row.num_classes
    spec.cifar_stem = row.cifar_stem
    return measure(spec, input_size=row.input_size, device=device)


def paper_table(only: Optional[str] = None,
                device: str = 'meta') -> Tuple[str, list]:
    """Markdown table of the papers' numbers against ours, and the
    :class:`Complexity` of every row (same order)."""
    from .paper_numbers import PAPERS, SKIPPED
    cache = {}
    lines = [
        '| source | model (paper) | ours | input | params paper (M) | '
        'params ours (M) | Δ params | GFLOPs paper | GMACs ours conv+fc | '
        'Δ FLOPs | GMACs matmul | G elementwise |',
        '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    results, notes = [], []
    for row, sources in paper_rows(only):
        key = (row.model, row.input_size, row.num_classes, row.cifar_stem)
        if key not in cache:
            cache[key] = measure_row(row, device)
        result = cache[key]
        results.append(result)
        note = ''
        if row.note:
            if row.note not in notes:
                notes.append(row.note)
            note = f' [{notes.index(row.note) + 1}]'
        size = '×'.join(str(v) for v in row.input_size)
        if row.cifar_stem:
            size += ' CIFAR'
        params = result.trainable_params / row.params_unit
        gmacs = result.conv_fc_macs / 1e9
        digits = max(2, len(f'{row.params}'.partition('.')[2])
                     if row.params is not None else 2)
        lines.append(
            f'| {"; ".join(sources)} | {row.label}{note} | `{row.short}` | '
            f'{size} | {row.params if row.params is not None else "-"} | '
            f'{params:.{digits}f} | {_percent(params, row.params)} | '
            f'{row.gflops if row.gflops is not None else "-"} | '
            f'{gmacs:.3f} | {_percent(gmacs, row.gflops)} | '
            f'{result.matmul_macs / 1e9:.3f} | '
            f'{result.total_elements / 1e9:.3f} |')
    lines.append('')
    lines.append(
        'Params: trainable parameters (all of a classifier; a detector\'s '
        'without its frozen stage 1, as mmcv\'s counter behind the '
        'papers\' detection tables). GMACs ours conv+fc: multiply-'
        'accumulates of convolutions and linear layers, the papers\' '
        '"FLOPs" (1 MAC = 1 FLOP); GMACs matmul: other matrix products '
        '(attention maps, SDPA), which those counters skip; G elementwise: '
        'elementwise, norm, softmax and pooling work in G elements (see '
        '`mmattn/analysis/complexity.py`). Detectors: mmdet 2.x '
        '`get_flops` at 1280×800, RoI heads on 1000 box / 100 mask RoIs. '
        'Counted on meta tensors (shapes only).')
    for index, note in enumerate(notes, 1):
        lines.append(f'[{index}] {note}.')
    lines.append('')
    lines.append('Not compared: ' + '; '.join(
        f'{where}: {what} ({why})' for where, what, why in SKIPPED) + '.')
    lines.append('')
    lines.append('Sources: ' + '; '.join(
        f'{key}: {value}' for key, value in PAPERS.items()) + '.')
    return '\n'.join(lines), results
