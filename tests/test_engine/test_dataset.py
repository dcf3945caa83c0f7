"""The dataset switch (mmattn.engine.dataset) on a COCO-format dataset that
mmattn's generator did not write (``outside_coco`` in tests/conftest.py:
category ids 7, 3, 12 listed in that order, no ``iscrowd``, extra keys,
polygons, compressed and uncompressed RLE)."""
import argparse
import copy
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmattn.engine.dataset import (DatasetError, add_dataset_arguments,
                                   apply_coco_dataset, dataset_from_args,
                                   use_coco_dataset)
from mmattn_test_utils import REPO_ROOT

CLASSES_IN_FILE_ORDER = ['disc', 'square', 'bar']
DEMO_RETINANET = 'configs/demo/retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py'
DEMO_MASK_RCNN = 'configs/demo/mask-rcnn_r18-ema-c3-c5_fpn_1000i_shapes.py'
CASCADE_MASK_RCNN = 'configs/se/cascade-mask-rcnn_r50-se-c3-c5_fpn_1x_coco.py'
FASTER_RCNN = 'configs/se/faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py'


def _config(path: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, path))


def _num_classes(node, path='model'):
    """{place: value} of every num_classes below ``node``."""
    found = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'num_classes':
                found[f'{path}.{key}'] = value
            else:
                found.update(_num_classes(value, f'{path}.{key}'))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found.update(_num_classes(value, f'{path}.{index}'))
    return found


def _build(registry_name: str, cfg):
    import mmdet.registry
    registry = getattr(mmdet.registry, registry_name)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return registry.build(copy.deepcopy(cfg))


@pytest.mark.parametrize('path, heads', [
    (DEMO_RETINANET, ['model.bbox_head.num_classes']),
    (DEMO_MASK_RCNN, ['model.roi_head.bbox_head.num_classes',
                      'model.roi_head.mask_head.num_classes']),
    (CASCADE_MASK_RCNN, [f'model.roi_head.bbox_head.{i}.num_classes'
                         for i in range(3)] +
     ['model.roi_head.mask_head.num_classes']),
], ids=['retinanet', 'mask-rcnn', 'cascade-mask-rcnn'])
def test_every_loader_evaluator_and_head_is_rewired(outside_coco, path,
                                                    heads):
    cfg = _config(path)
    classes = use_coco_dataset(cfg, **outside_coco)
    assert classes == CLASSES_IN_FILE_ORDER
    assert _num_classes(cfg.model) == {head: 3 for head in heads}
    image_dir = outside_coco['img_dir'] + osp.sep
    for loader, ann in (('train_dataloader', 'train_ann'),
                        ('val_dataloader', 'val_ann'),
                        ('test_dataloader', 'val_ann')):
        dataset = cfg[loader].dataset
        assert dataset.ann_file == outside_coco[ann]
        assert dataset.data_prefix == dict(img=image_dir)
        assert list(dataset.metainfo.classes) == CLASSES_IN_FILE_ORDER
    for evaluator in ('val_evaluator', 'test_evaluator'):
        assert cfg[evaluator].ann_file == outside_coco['val_ann']
        # The outside files have no iscrowd, which COCOeval needs.
        assert cfg[evaluator].type == 'LenientCocoMetric'
    # The built detector predicts the 3 classes in every head (a cascade
    # builds each stage's box and mask head); the RPN stays class-agnostic.
    cfg.model.backbone.init_cfg = None
    model = _build('MODELS', cfg.model)
    built = {name: module.num_classes
             for name, module in model.named_modules()
             if hasattr(module, 'num_classes') and name}
    rpn = {name: built.pop(name) for name in list(built)
           if name.startswith('rpn_head')}
    assert built and set(built.values()) == {3}, built
    assert set(rpn.values()) <= {1}, rpn


def test_applying_twice_changes_nothing(outside_coco):
    cfg = _config(DEMO_MASK_RCNN)
    use_coco_dataset(cfg, **outside_coco)
    once = copy.deepcopy(cfg.to_dict())
    apply_coco_dataset(cfg)  # as a dumped config is loaded again
    assert cfg.to_dict() == once


def _perfect_predictions_ap(cfg: Config) -> dict:
    """COCO AP of predictions equal to the val set's ground truth, through
    the config's own dataset and evaluator."""
    dataset = _build('DATASETS', cfg.val_dataloader.dataset)
    metric = _build('METRICS', cfg.val_evaluator)
    metric.dataset_meta = dataset.metainfo
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        instances = info['instances']
        metric.process({}, [dict(
            img_id=info['img_id'],
            ori_shape=(info['height'], info['width']),
            pred_instances=dict(
                bboxes=torch.tensor([i['bbox'] for i in instances]).view(
                    -1, 4).float(),
                scores=torch.ones(len(instances)),
                labels=torch.tensor([i['bbox_label'] for i in instances],
                                    dtype=torch.long)))])
    return metric.evaluate(len(dataset))


@pytest.mark.parametrize('classes, expected', [
    (None, CLASSES_IN_FILE_ORDER),
    (['bar', 'disc'], ['disc', 'bar']),
])
def test_labels_map_to_category_ids_in_file_order(outside_coco, classes,
                                                  expected):
    cfg = _config(FASTER_RCNN)
    assert use_coco_dataset(cfg, **outside_coco, classes=classes) == expected
    dataset = _build('DATASETS', cfg.val_dataloader.dataset)
    assert list(dataset.metainfo['classes']) == expected
    with open(outside_coco['val_ann']) as f:
        data = json.load(f)
    names = {c['id']: c['name'] for c in data['categories']}
    by_image = {}
    for annotation in data['annotations']:
        if names[annotation['category_id']] in expected:
            by_image.setdefault(annotation['image_id'], []).append(
                expected.index(names[annotation['category_id']]))
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        assert [i['bbox_label'] for i in info['instances']] == \
            by_image.get(info['img_id'], [])
    # Predicting the ground truth scores 1: labels and category ids agree
    # between the dataset and CocoMetric.
    ap = _perfect_predictions_ap(cfg)
    assert ap['coco/bbox_mAP'] == pytest.approx(1.0)
    assert ap['coco/bbox_mAP_50'] == pytest.approx(1.0)


def test_val_file_with_another_category_order_is_refused(outside_coco,
                                                         tmp_path):
    with open(outside_coco['val_ann']) as f:
        data = json.load(f)
    data['categories'] = data['categories'][::-1]
    reordered = tmp_path / 'val.json'
    reordered.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match='in the order'):
        use_coco_dataset(_config(FASTER_RCNN), outside_coco['img_dir'],
                         outside_coco['train_ann'], str(reordered))


def test_bad_inputs_are_named(outside_coco, tmp_path):
    paths = dict(outside_coco)
    with pytest.raises(DatasetError, match=r"classes \['cat'\] are not"):
        use_coco_dataset(_config(FASTER_RCNN), **paths, classes=['cat'])
    with pytest.raises(DatasetError, match='missing.json does not exist'):
        use_coco_dataset(_config(FASTER_RCNN), **dict(
            paths, val_ann=str(tmp_path / 'missing.json')))
    not_coco = tmp_path / 'list.json'
    not_coco.write_text('[1, 2]')
    with pytest.raises(DatasetError, match='not in COCO format'):
        use_coco_dataset(_config(FASTER_RCNN), **dict(
            paths, train_ann=str(not_coco)))
    with open(paths['train_ann']) as f:
        boxes_only = json.load(f)
    for annotation in boxes_only['annotations']:
        del annotation['segmentation']
    (tmp_path / 'boxes.json').write_text(json.dumps(boxes_only))
    with pytest.raises(DatasetError, match='predicts masks'):
        use_coco_dataset(_config(DEMO_MASK_RCNN), **dict(
            paths, train_ann=str(tmp_path / 'boxes.json')))
    with pytest.raises(DatasetError, match='image folder'):
        use_coco_dataset(_config(FASTER_RCNN), **dict(
            paths, img_dir=str(tmp_path / 'nowhere')))


def test_options_need_the_folder_and_both_files():
    parser = argparse.ArgumentParser()
    add_dataset_arguments(parser)
    assert dataset_from_args(parser.parse_args([])) is None
    args = parser.parse_args(['--img-dir', 'x', '--classes', 'a', 'b'])
    with pytest.raises(DatasetError, match='--train-ann --val-ann'):
        dataset_from_args(args)
    args = parser.parse_args(['--img-dir', 'x', '--train-ann', 't.json',
                              '--val-ann', 'v.json'])
    assert dataset_from_args(args) == dict(
        img_dir='x', train_ann='t.json', val_ann='v.json')


def _readme_command() -> str:
    """The README's command for a dataset of your own."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        readme = f.read()
    section = readme.split('### Your own dataset', 1)[1]
    block = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
    return ' '.join(line.rstrip('\\').strip()
                    for line in block.strip().splitlines()
                    if not line.startswith('#'))


def test_readme_command_trains_and_tests_on_an_outside_dataset(
        outside_coco, tmp_path):
    """The README command, on the outside dataset, then tools/test.py with
    the same options: COCO bbox and segm AP from the real CocoMetric."""
    command = _readme_command()
    for placeholder, key in (('data/mine/images', 'img_dir'),
                             ('data/mine/train.json', 'train_ann'),
                             ('data/mine/val.json', 'val_ann')):
        assert placeholder in command, command
        command = command.replace(placeholder, outside_coco[key])
    argv = shlex.split(command)
    assert argv[:2] == ['python', 'tools/train.py'], argv
    config = argv[2]
    dataset_options = argv[3:]
    quick = ['--cfg-options', 'train_cfg.max_iters=3',
             'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False',
             'val_dataloader.num_workers=0',
             'val_dataloader.persistent_workers=False',
             'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False',
             'model.test_cfg.rcnn.score_thr=0.0']
    work_dir = str(tmp_path / 'work')

    def run(tool, *arguments):
        result = subprocess.run(
            [sys.executable, osp.join(REPO_ROOT, 'tools', tool), *arguments],
            capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
        assert result.returncode == 0, \
            result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout + result.stderr

    output = run('train.py', config, *dataset_options, '--work-dir',
                 work_dir, *quick)
    assert 'coco/segm_mAP' in output and 'coco/bbox_mAP' in output
    output = run('test.py', config, osp.join(work_dir, 'iter_3.pth'),
                 *dataset_options, '--work-dir', work_dir, *quick)
    metrics = re.search(r'Iter\(test\).*coco/bbox_mAP: (\S+).*'
                        r'coco/segm_mAP: (\S+)', output)
    assert metrics, output[-3000:]
    assert all(0 <= float(value) <= 1 for value in metrics.groups())


def test_mim_passes_the_dataset_options_through(outside_coco, tmp_path):
    """`mim train mmattn <name>.py --img-dir ...` (mim runs tools/train.py
    with the options it does not know)."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    work_dir = str(tmp_path / 'work')
    result = subprocess.run(
        [mim, 'train', 'mmattn', osp.basename(DEMO_RETINANET),
         '--img-dir', outside_coco['img_dir'],
         '--train-ann', outside_coco['train_ann'],
         '--val-ann', outside_coco['val_ann'], '--work-dir', work_dir,
         '--cfg-options', 'train_cfg.max_iters=2',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False'],
        capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    config, = [p for p in os.listdir(work_dir) if p.endswith('.py')]
    dumped = Config.fromfile(osp.join(work_dir, config))
    assert dumped.model.bbox_head.num_classes == 3
    assert dumped.train_dataloader.dataset.ann_file == \
        outside_coco['train_ann']
