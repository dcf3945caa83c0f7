"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep
Networks via Gradient-based Localization", ICCV 2017) on any layer.

A forward hook on the chosen module keeps its output (one element of it when
the module returns several, e.g. a backbone's tuple of stage outputs) and
registers a tensor hook for its gradient. The class activation map is
``ReLU(Σ_c α_c A_c)`` with ``α_c`` the spatial mean of ∂score/∂A_c,
upsampled to the input and normalised to [0, 1] per image.

What is explained (the *score*):

* classifiers: the logit of the target class (default: the predicted one);
* detectors: the mean of the ``top_k`` (100) largest classification logits
  of the dense head (RetinaNet's box head, a two-stage detector's RPN
  objectness): the most confident anchors;
* bare backbones: the mean squared activation of the last output
  ("feature energy"), as they have no score of their own.
"""
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models import ModelSpec, model_forward

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


class GradCAM:
    """Grad-CAM on ``layer``'s output.

    Args:
        layer (nn.Module): The module whose output is explained; it must be
            called as a module (through ``__call__``) in the forward pass.
            If it runs several times, the last call counts.
        output_index (int, optional): Element of a tuple/list output (e.g.
            ``-1``: a backbone's last stage). Default: -1 for sequences.
    """

    def __init__(self, layer: nn.Module,
                 output_index: Optional[int] = None) -> None:
        self.output_index = output_index
        self.activation: Optional[Tensor] = None
        self.gradient: Optional[Tensor] = None
        self._handle = layer.register_forward_hook(self._forward_hook)

    def _forward_hook(self, module, inputs, output) -> None:
        if isinstance(output, (tuple, list)):
            index = -1 if self.output_index is None else self.output_index
            output = output[index]
        if not isinstance(output, Tensor) or output.dim() != 4:
            raise TypeError(
                f'Grad-CAM needs a (B, C, H, W) output of '
                f'{type(module).__name__}, got '
                f'{getattr(output, "shape", type(output))}')
        self.activation = output
        self.gradient = None
        if output.requires_grad:
            output.register_hook(self._save_gradient)

    def _save_gradient(self, grad: Tensor) -> None:
        self.gradient = grad

    def __call__(self, inputs: Tensor,
                 score_fn: Callable[[Tensor], Tensor]) -> Tensor:
        """CAM of ``score_fn(inputs)`` (one score per image): (B, H, W) in
        [0, 1], at the input's size."""
        inputs = inputs.detach().requires_grad_(True)
        with torch.enable_grad():
            scores = score_fn(inputs)
            if self.activation is None:
                raise RuntimeError('the target layer did not run')
            if not self.activation.requires_grad:
                raise RuntimeError('the target layer output has no gradient')
            scores.sum().backward()
        if self.gradient is None:
            raise RuntimeError('no gradient reached the target layer')
        weights = self.gradient.mean((2, 3), keepdim=True)
        cam = F.relu((weights * self.activation).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=inputs.shape[-2:], mode='bilinear',
                            align_corners=False)[:, 0]
        low = cam.flatten(1).min(1).values[:, None, None]
        high = cam.flatten(1).max(1).values[:, None, None]
        return ((cam - low) / (high - low).clamp_min(1e-12)).detach()

    def remove(self) -> None:
        self._handle.remove()


def default_layer(spec: ModelSpec, model: nn.Module) -> nn.Module:
    """The backbone (whose last output is explained by default)."""
    if spec.kind == 'backbone':
        return model
    return model.backbone


def score_function(spec: ModelSpec, model: nn.Module,
                   target_class: Optional[int] = None,
                   top_k: int = 100) -> Callable[[Tensor], Tensor]:
    """The per-image score Grad-CAM explains (see the module docstring)."""
    if spec.kind == 'classifier':

        def classifier_score(inputs):
            logits = model_forward(spec, model, inputs)
            if target_class is None:
                index = logits.argmax(1)
            else:
                index = torch.full((logits.shape[0], ), target_class,
                                   device=logits.device)
            return logits.gather(1, index[:, None])[:, 0]

        return classifier_score
    if spec.kind == 'detector':

        def detector_score(inputs):
            feats = model.extract_feat(inputs)
            head = getattr(model, 'bbox_head', None)
            if head is None:
                head = getattr(model, 'rpn_head', None)
            if head is None:
                return _energy(feats)
            cls_scores = head(feats)[0]
            logits = torch.cat([level.flatten(1) for level in cls_scores], 1)
            top = min(top_k, logits.shape[1])
            return logits.topk(top, dim=1).values.mean(1)

        return detector_score

    def backbone_score(inputs):
        return _energy(model(inputs))

    return backbone_score


def _energy(outputs) -> Tensor:
    last = outputs[-1] if isinstance(outputs, (tuple, list)) else outputs
    return last.pow(2).flatten(1).mean(1)


def preprocess(image_rgb: np.ndarray, device='cpu') -> Tensor:
    """uint8 (H, W, 3) RGB -> normalised (1, 3, H, W) float tensor."""
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(device)
    tensor = tensor.permute(2, 0, 1)[None].float()
    return (tensor - mean) / std


def load_image(path: Optional[str], size: Sequence[int]) -> np.ndarray:
    """An RGB uint8 image of ``size`` (H, W): ``path`` resized, or a
    synthetic picture of a few shapes when ``path`` is None."""
    import cv2
    height, width = size
    if path is None:
        return synthetic_image((height, width))
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f'cannot read image {path!r}')
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def synthetic_image(size: Sequence[int], seed: int = 0) -> np.ndarray:
    """A deterministic test picture: a gradient background with a filled
    circle, rectangle and triangle."""
    import cv2
    height, width = size
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    background = np.stack([
        60 + 80 * xs / max(width - 1, 1), 80 + 60 * ys / max(height - 1, 1),
        np.full_like(xs, 110, dtype=float)
    ], -1)
    image = np.clip(background + rng.normal(0, 8, background.shape), 0,
                    255).astype(np.uint8)
    scale = min(height, width)
    cv2.circle(image, (int(width * 0.3), int(height * 0.35)),
               max(2, int(scale * 0.16)), (230, 40, 40), -1)
    cv2.rectangle(image, (int(width * 0.55), int(height * 0.5)),
                  (int(width * 0.85), int(height * 0.85)), (40, 200, 60), -1)
    triangle = np.array([[width * 0.15, height * 0.9],
                         [width * 0.45, height * 0.9],
                         [width * 0.3, height * 0.6]], dtype=np.int32)
    cv2.fillPoly(image, [triangle], (240, 220, 40))
    return image


def gradcam(spec: ModelSpec,
            model: nn.Module,
            image_rgb: np.ndarray,
            layer: Union[str, nn.Module, None] = None,
            output_index: Optional[int] = None,
            target_class: Optional[int] = None) -> np.ndarray:
    """Grad-CAM of ``model`` on one RGB image: (H, W) float32 in [0, 1].

    ``layer`` is a module or its dotted path in ``model`` (default: the
    backbone, explained at its last output, or at ``output_index``).
    """
    if layer is None:
        layer = default_layer(spec, model)
    elif isinstance(layer, str):
        layer = model.get_submodule(layer)
    device = next(model.parameters()).device
    cam = GradCAM(layer, output_index)
    try:
        result = cam(preprocess(image_rgb, device),
                     score_function(spec, model, target_class))
    finally:
        cam.remove()
        model.zero_grad(set_to_none=True)
    return result[0].cpu().numpy().astype(np.float32)
