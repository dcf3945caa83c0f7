"""ONNX export of mmattn backbones and of a detector's backbone, neck and
dense head.

Exporter: ``torch.onnx.export(..., dynamo=False)``, the TorchScript-based
exporter, at opset 17 with dynamic batch, height and width. The newer
``dynamo=True`` exporter needs ``onnxscript``, which the pinned stack does
not install; the TorchScript one records one example run, so every mmattn
module computes what depends on the input size with tensor operations (no
Python branches or loops over sizes while tracing: see ``pairwise_attention``,
``MultiSpectralAttention``, DCA's ``match_spatial``), and the exported graph
is checked with onnxruntime at sizes other than the example's.

What is exported:

* a backbone: image (B, 3, H, W) -> its feature maps ``out0 .. outN``;
* a detector (``DetectorFeatures``): ``extract_feat`` (backbone + neck) and
  the raw outputs of its dense head (``bbox_head`` of one-stage detectors,
  ``rpn_head`` of two-stage ones: per level class scores and box deltas).
  Anchor decoding, NMS (mmcv ops) and RoI heads are not: plain
  ``torch.onnx`` cannot export mmdet's data-dependent post-processing
  (that is mmdeploy's job). The input is the tensor after the detector's
  data preprocessor (normalised, padded to its ``pad_size_divisor``).
"""
import copy
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from mmengine.utils import import_modules_from_strings
from torch import Tensor, nn

OPSET = 17


def build_backbone(backbone: Union[str, dict, nn.Module]) -> nn.Module:
    """An mmattn backbone from a module, a config dict or a type name
    (``'EPSANet'`` means ``dict(type='EPSANet')`` with its defaults)."""
    if isinstance(backbone, nn.Module):
        return backbone
    from mmattn.registry import MODELS
    cfg = dict(type=backbone) if isinstance(backbone, str) else \
        copy.deepcopy(backbone)
    return MODELS.build(cfg)


def build_detector(config: Union[str, Config],
                   checkpoint: Optional[str] = None,
                   cfg_options: Optional[dict] = None) -> nn.Module:
    """The model of an OpenMMLab config (a path or a ``Config``; built in the
    config's ``default_scope``, ``mmdet`` if it has none), with the weights
    of ``checkpoint`` (strictly) when given. Pretrained backbone weights are
    not fetched: ``model.backbone.init_cfg`` is dropped."""
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    model_cfg = copy.deepcopy(cfg.model)
    if 'backbone' in model_cfg:
        model_cfg.backbone.pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmdet')):
        model = ROOT_MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model


#: Names of a dense head's output groups, in mmdet's order.
HEAD_GROUPS = ('cls_score', 'bbox_pred', 'centerness')


class DetectorFeatures(nn.Module):
    """A detector's ``extract_feat`` and dense-head outputs, as a flat tuple
    of tensors (see the module docstring): ``feat0 ..`` then, per output
    group of the head, one tensor per level (``cls_score0 ..``,
    ``bbox_pred0 ..``)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        self.head_name = next(
            (name for name in ('bbox_head', 'rpn_head')
             if getattr(detector, name, None) is not None), None)

    def _head_groups(self, feats: Tuple[Tensor, ...]) -> Tuple:
        if self.head_name is None:
            return ()
        return tuple(getattr(self.detector, self.head_name)(feats))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        feats = tuple(self.detector.extract_feat(x))
        outs = list(feats)
        for group in self._head_groups(feats):
            outs.extend(group)
        return tuple(outs)

    def output_names(self, x: Tensor) -> List[str]:
        """The names of the outputs for an input like ``x``."""
        with torch.no_grad():
            feats = tuple(self.detector.extract_feat(x))
            names = [f'feat{i}' for i in range(len(feats))]
            for g, group in enumerate(self._head_groups(feats)):
                prefix = HEAD_GROUPS[g] if g < len(HEAD_GROUPS) else \
                    f'head_out{g}_'
                names += [f'{prefix}{i}' for i in range(len(group))]
        return names


def export_onnx(model: nn.Module,
                out_file: str,
                input_shape: Sequence[int] = (1, 3, 224, 224),
                opset: int = OPSET,
                output_names: Optional[List[str]] = None) -> Dict:
    """Export ``model`` (in eval mode) with dynamic batch/height/width.

    Returns ``dict(input_name='input', output_names=[...])``; the outputs
    are named ``out0 ..`` (:class:`DetectorFeatures`: its own names) unless
    ``output_names`` is given.
    """
    if opset < 17:
        raise ValueError(f'export_onnx: opset={opset!r} is invalid; mmattn '
                         'exports with opset >= 17')
    model.eval()
    example = torch.randn(*input_shape)
    with torch.no_grad():
        outputs = model(example)
    outputs = (outputs, ) if isinstance(outputs, Tensor) else outputs
    if output_names is None and isinstance(model, DetectorFeatures):
        output_names = model.output_names(example)
    names = output_names or [f'out{i}' for i in range(len(outputs))]
    if len(names) != len(outputs):
        raise ValueError(f'export_onnx: {len(names)} output names for '
                         f'{len(outputs)} outputs')
    dynamic_axes = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
    for name in names:
        dynamic_axes[name] = {0: 'batch', 2: f'{name}_height',
                              3: f'{name}_width'}
    with warnings.catch_warnings():
        # The TorchScript exporter announces its deprecation, and warns
        # about the (static) channel sizes it records as constants.
        warnings.simplefilter('ignore')
        torch.onnx.export(
            model, (example, ), out_file, dynamo=False, opset_version=opset,
            input_names=['input'], output_names=names,
            dynamic_axes=dynamic_axes, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(out_file))
    return dict(input_name='input', output_names=names)


def verify_onnx(model: nn.Module, onnx_file: str,
                input_shapes: Sequence[Sequence[int]],
                seed: int = 0) -> List[float]:
    """Run ``onnx_file`` with onnxruntime and ``model`` with PyTorch on
    random inputs of each shape; returns, per shape, the largest absolute
    difference over all outputs divided by the largest absolute PyTorch
    output (a relative error)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    errors = []
    for shape in input_shapes:
        x = torch.randn(*shape, generator=generator)
        with torch.no_grad():
            expected = model(x)
        expected = (expected, ) if isinstance(expected, Tensor) else expected
        got = session.run(None, {'input': x.numpy()})
        if len(got) != len(expected):
            raise AssertionError(f'{len(got)} ONNX outputs, '
                                 f'{len(expected)} PyTorch outputs')
        error, scale = 0.0, 0.0
        for out, ref in zip(got, expected):
            if tuple(out.shape) != tuple(ref.shape):
                raise AssertionError(
                    f'input {tuple(shape)}: ONNX output shape '
                    f'{tuple(out.shape)} != PyTorch {tuple(ref.shape)}')
            ref = ref.numpy()
            error = max(error, float(abs(out - ref).max()))
            scale = max(scale, float(abs(ref).max()))
        errors.append(error / max(scale, 1e-12))
    return errors
