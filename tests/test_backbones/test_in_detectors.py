"""Every backbone inside mmdet's Faster R-CNN, Mask R-CNN, RetinaNet and
Cascade R-CNN FPN configs, where only ``model.backbone`` changes: one
training step (finite loss; frozen layer1, gradients everywhere else) and
one inference step on a small CPU input."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.hub import get_config
from mmengine.registry import DefaultScope

DETECTORS = {
    'faster-rcnn': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mask-rcnn': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'retinanet': 'retinanet/retinanet_r50_fpn_1x_coco.py',
    'cascade-rcnn': 'cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
}
BACKBONES = {
    'attnresnet-ema': dict(type='AttnResNet', plugins=[
        dict(cfg=dict(type='EMA'), stages=(False, True, True, True),
             position='after_conv3')]),
    'epsanet-s': dict(type='EPSANet', variant='small'),
    'epsanet-l': dict(type='EPSANet', variant='large'),
    'dmsanet': dict(type='DMSANet'),
    'dca-se': dict(type='DCAResNet', attention=dict(type='SE')),
    'dca-gc': dict(type='DCAResNet', attention=dict(type='GC')),
    'emca-eca': dict(type='EMCAResNet', excitation='ECA'),
}


def _detector(detector: str, backbone: dict):
    register_all_modules(init_default_scope=False)
    cfg = get_config(f'mmdet::{DETECTORS[detector]}').model
    assert cfg.backbone.type == 'ResNet'
    # The type swap (plus its options); no torchvision download.
    cfg.backbone.update(backbone, init_cfg=None)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('detector', list(DETECTORS))
@pytest.mark.parametrize('backbone', list(BACKBONES))
def test_training_and_inference_step(detector, backbone):
    model = _detector(detector, BACKBONES[backbone])
    packed = demo_mm_inputs(batch_size=1, image_shapes=[(3, 64, 96)],
                            num_items=[2], num_classes=80,
                            with_mask=detector == 'mask-rcnn')
    model.train()
    data = model.data_preprocessor(packed, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    for name, param in model.backbone.named_parameters():
        frozen = name.startswith(('conv1.', 'bn1.', 'layer1.'))
        assert param.requires_grad is not frozen, name
        assert (param.grad is not None) is not frozen, name

    model.eval()
    with torch.no_grad():
        result, = model(**model.data_preprocessor(packed, False),
                        mode='predict')
    assert result.pred_instances.bboxes.shape[-1] == 4
    if detector == 'mask-rcnn':
        assert 'masks' in result.pred_instances
