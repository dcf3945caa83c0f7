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
  movement (views, copies, cat, pad) is not counted.

Counting runs under a ``TorchDispatchMode`` over aten operators, by default
on ``meta`` tensors: shapes only, no arithmetic, so that even DMSANet's
full-resolution position attention at detection size (TFLOPs) is counted in
well under a second. Detectors are counted like mmdet's ``get_flops`` of
mmdet 2.x, which the papers' detection tables used: backbone, neck, dense
heads on the whole image, and the RoI heads on ``num_rois`` (1000) RoIs for
boxes and ``num_mask_rois`` (100) for masks; RoIAlign, anchor generation,
box decoding and NMS are not counted.

Parameters are counted once per tensor (shared modules once). For detectors
``trainable`` excludes frozen parameters (stage 1 under mmdet's
``frozen_stages=1``), which is what mmcv's counter and hence the papers'
detection tables report.
"""
import contextlib
import io
import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn.modules.module import (register_module_forward_hook,
                                     register_module_forward_pre_hook)
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from .models import ModelSpec, build, model_forward

aten = torch.ops.aten


def _packets(*names: str) -> frozenset:
    found = []
    for name in names:
        packet = getattr(aten, name, None)
        if packet is not None:
            found.append(packet)
    return frozenset(found)


CONV_OPS = _packets('convolution', '_convolution', 'cudnn_convolution',
                    'convolution_overrideable')
_SDPA_OPS = _packets('_scaled_dot_product_efficient_attention',
                     '_scaled_dot_product_flash_attention',
                     '_scaled_dot_product_cudnn_attention',
                     '_scaled_dot_product_flash_attention_for_cpu')

#: aten op -> FLOP formula (2 FLOPs per MAC). torch's registry lacks CPU's
#: fused SDPA kernel; it has the same cost as the other fused kernels.
FLOP_FORMULAS = dict(flop_registry)
_sdpa_formula = flop_registry.get(aten._scaled_dot_product_efficient_attention)
if _sdpa_formula is not None:
    for _packet in _SDPA_OPS:
        FLOP_FORMULAS.setdefault(_packet, _sdpa_formula)

ACTIVATIONS = frozenset((
    'relu', 'relu6', 'sigmoid', 'hardswish', 'hardsigmoid', 'silu', 'gelu',
    'tanh', 'leaky_relu', 'elu', 'hardtanh', 'threshold', 'softplus', 'mish',
    'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'clamp', 'clamp_min',
    'clamp_max', 'abs', 'sign', 'erf'))
ARITHMETIC = frozenset((
    'add', 'sub', 'rsub', 'mul', 'div', 'neg', 'addcmul', 'addcdiv', 'where',
    'maximum', 'minimum', 'pow', 'lerp', 'masked_fill', 'square', 'floor',
    'ceil', 'round', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logical_and',
    'logical_or', 'logical_not', 'bitwise_and', 'bitwise_or', 'fmod',
    'remainder'))
NORMS = frozenset((
    'native_batch_norm', '_native_batch_norm_legit',
    '_native_batch_norm_legit_no_training',
    '_native_batch_norm_legit_functional', 'cudnn_batch_norm',
    'miopen_batch_norm', 'native_group_norm', 'native_layer_norm',
    'instance_norm', 'batch_norm', 'group_norm', 'layer_norm'))
SOFTMAX = frozenset(('_softmax', '_safe_softmax', '_log_softmax', 'softmax',
                     'log_softmax'))
REDUCTIONS = frozenset((
    'mean', 'sum', 'amax', 'amin', 'max', 'min', 'var', 'var_mean', 'std',
    'std_mean', 'prod', 'norm', 'linalg_vector_norm', 'logsumexp', 'cumsum',
    'avg_pool1d', 'avg_pool2d', 'avg_pool3d', 'max_pool1d', 'max_pool2d',
    'max_pool3d', 'max_pool2d_with_indices', 'max_pool3d_with_indices',
    'adaptive_avg_pool1d', 'adaptive_avg_pool2d', '_adaptive_avg_pool2d',
    'adaptive_avg_pool3d', '_adaptive_avg_pool3d', 'adaptive_max_pool1d',
    'adaptive_max_pool2d', 'adaptive_max_pool3d'))
RESAMPLE = frozenset((
    'upsample_nearest1d', 'upsample_nearest2d', 'upsample_nearest3d',
    '_upsample_nearest_exact1d', '_upsample_nearest_exact2d',
    'upsample_linear1d', 'upsample_bilinear2d', '_upsample_bilinear2d_aa',
    'upsample_bicubic2d', 'upsample_trilinear3d', 'grid_sampler_2d'))
#: Pointwise-tagged ops that move or create data without arithmetic.
NOT_WORK = frozenset((
    'copy', 'clone', 'fill', 'zero', '_to_copy', 'detach', 'alias',
    'lift_fresh', 'lift_fresh_copy', 'empty_like', 'zeros_like', 'ones_like',
    'full_like', 'bernoulli', 'normal', 'uniform', 'random', 'to'))

#: Elementwise categories, in report order, with what each counts.
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


def _numel(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, (list, tuple)) and value:
        return _numel(value[0])
    return 0


def _base_name(func) -> str:
    """The op's name without the in-place suffix (``relu_`` -> ``relu``)."""
    name = func.overloadpacket.__name__
    if name.endswith('_') and not name.endswith('__'):
        name = name[:-1]
    return name


class OpCounter(TorchDispatchMode):
    """Counts MACs and elementwise work of the aten ops run inside it.

    Products inside an ``nn.Linear`` are told apart from other products
    with global module forward hooks, installed while the counter is active.
    """

    def __init__(self) -> None:
        super().__init__()
        self.macs: Dict[str, int] = defaultdict(int)
        self.elements: Dict[str, int] = defaultdict(int)
        self.ops: Dict[str, int] = defaultdict(int)
        self._linear_depth = 0
        self._hooks = []

    # Linear tracking ----------------------------------------------------
    def _pre(self, module, inputs):
        if isinstance(module, nn.Linear):
            self._linear_depth += 1

    def _post(self, module, inputs, output):
        if isinstance(module, nn.Linear):
            self._linear_depth -= 1

    def __enter__(self):
        self._hooks = [
            register_module_forward_pre_hook(self._pre),
            register_module_forward_hook(self._post)
        ]
        return super().__enter__()

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        return super().__exit__(*exc)

    # Counting -------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func.overloadpacket
        formula = FLOP_FORMULAS.get(packet)
        if formula is not None:
            macs = formula(*args, **kwargs, out_val=out) // 2
            if packet in CONV_OPS:
                self.macs['conv'] += macs
            elif packet in _SDPA_OPS:
                self.macs['matmul'] += macs
                # The fused kernel's softmax over the scores (the math path
                # on other devices counts its own softmax op).
                query, key = args[0], args[1]
                self.elements['softmax'] += (
                    query.numel() // query.shape[-1] * key.shape[-2])
            elif self._linear_depth:
                self.macs['fc'] += macs
            else:
                self.macs['matmul'] += macs
            self.ops[str(packet)] += 1
            return out
        name = _base_name(func)
        category = None
        if name in NORMS:
            category, count = 'norm', _numel(args[0])
        elif name in SOFTMAX:
            category, count = 'softmax', _numel(args[0])
        elif name in REDUCTIONS:
            category, count = 'reduce', _numel(args[0])
        elif name in RESAMPLE:
            category, count = 'resample', _numel(out)
        elif name in ACTIVATIONS:
            category, count = 'activation', _numel(out)
        elif name in ARITHMETIC or (
                torch.Tag.pointwise in func.tags and name not in NOT_WORK):
            category, count = 'arithmetic', _numel(out)
        if category is not None:
            self.elements[category] += count
            self.ops[str(packet)] += 1
        return out


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
                num_mask_rois: int = 100) -> OpCounter:
    """One forward pass of ``model`` under an :class:`OpCounter`."""
    with torch.no_grad(), OpCounter() as counter:
        if spec.kind == 'detector':
            detector_dummy_forward(model, inputs, num_rois, num_mask_rois)
        else:
            model_forward(spec, model, inputs)
    return counter


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
    counter = run_counted(spec, model, inputs, num_rois, num_mask_rois)
    result = Complexity(
        name=spec.name,
        kind=spec.kind,
        input_shape=(batch_size, 3, height, width),
        params=params,
        trainable_params=trainable,
        macs={k: counter.macs.get(k, 0) for k in MAC_CATEGORIES},
        elements={k: counter.elements.get(k, 0)
                  for k in ELEMENTWISE_CATEGORIES},
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
