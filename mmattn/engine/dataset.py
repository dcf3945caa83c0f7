"""Point any detection config at a COCO-format dataset in one step.

A COCO-format dataset is an image folder and a train and a val annotation
file. Pointing an mmdet config at one by hand takes about fourteen
overrides (``data_root``, ``ann_file``, ``data_prefix`` and
``metainfo.classes`` of three dataloaders, the ``ann_file`` of two
evaluators, ``num_classes`` of every head), and overriding the config's
top-level ``data_root`` or ``metainfo`` variables changes nothing, since
they were read when the file was loaded. Here one config variable does it::

    coco_dataset = dict(img_dir='data/mine/images',
                        train_ann='data/mine/train.json',
                        val_ann='data/mine/val.json')

or, from the tools (``tools/train.py``, ``tools/test.py``, ``mim``, the
benchmark suite), the options ``--img-dir``, ``--train-ann``, ``--val-ann``
(:func:`add_dataset_arguments`). :func:`apply_coco_dataset` then rewires

* every dataloader (through dataset wrappers such as ``RepeatDataset``):
  ``CocoDataset`` with absolute ``ann_file`` and image folder and the
  classes as ``metainfo``;
* every ``CocoMetric`` of ``val_evaluator`` / ``test_evaluator``: its
  ``ann_file``;
* the detector's class count: every ``num_classes`` in the model (dense
  heads, RoI box and mask heads, each stage of a cascade) except the RPN's,
  which is class-agnostic.

The classes are read from the train annotation file unless given. mmdet
numbers labels in the order in which the file lists its categories,
whatever their ids (``CocoDataset`` and ``CocoMetric`` both map
``label -> category id`` through ``COCO.get_cat_ids(cat_names=classes)``,
which keeps the file's order), so given classes are put into that order
and the val file must list them in the same order. Annotations without
``iscrowd`` (which pycocotools' evaluation requires, though mmdet's dataset
reads it as optional) are evaluated by :class:`LenientCocoMetric`, which
counts them as not crowd.
"""
import argparse
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmdet.evaluation import CocoMetric
from mmdet.registry import DATASETS
from mmdet.registry import METRICS as DET_METRICS
from mmengine.config import Config, ConfigDict
from mmengine.registry import METRICS

#: The config variable that names the dataset (see the module docstring).
DATASET_KEY = 'coco_dataset'
#: Its keys: where the images are, the annotation files, optional classes.
DATASET_FIELDS = ('img_dir', 'train_ann', 'val_ann', 'test_ann',
                  'val_img_dir', 'test_img_dir', 'classes')
_LOADERS = (('train_dataloader', 'train'), ('val_dataloader', 'val'),
            ('test_dataloader', 'test'))
_EVALUATORS = (('val_evaluator', 'val'), ('test_evaluator', 'test'))


class DatasetError(ValueError):
    """A COCO-format dataset or its options cannot be used as given."""


@METRICS.register_module()
class LenientCocoMetric(CocoMetric):
    """mmdet's :class:`~mmdet.evaluation.CocoMetric` for annotation files
    whose annotations may lack ``iscrowd``: a missing one counts as 0, as
    in mmdet's ``CocoDataset`` (pycocotools' ``COCOeval`` raises
    ``KeyError: 'iscrowd'``). Everything else is CocoMetric's."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._coco_api is not None:
            # COCO's index holds the same annotation dicts.
            for annotation in self._coco_api.dataset['annotations']:
                annotation.setdefault('iscrowd', 0)


class CocoFile:
    """What the dataset switch needs to know about one annotation file.

    Attributes:
        path (str): Absolute path.
        categories (list[dict]): ``{'id', 'name'}`` in the file's order.
        has_masks (bool): Some annotation has a ``segmentation``.
        lacks_iscrowd (bool): Some annotation has no ``iscrowd``.
    """

    def __init__(self, path: str) -> None:
        self.path = osp.abspath(path)
        if not osp.isfile(self.path):
            raise DatasetError(f'annotation file {path} does not exist')
        try:
            with open(self.path) as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DatasetError(
                f'annotation file {path} is not JSON: {exc}') from None
        missing = [key for key in ('images', 'annotations', 'categories')
                   if not isinstance(data, dict)
                   or not isinstance(data.get(key), list)]
        if missing:
            raise DatasetError(
                f'annotation file {path} is not in COCO format: it has no '
                f'list {", ".join(repr(k) for k in missing)}')
        self.categories = []
        for category in data['categories']:
            if not isinstance(category, dict) or not {'id', 'name'} <= set(
                    category):
                raise DatasetError(
                    f'annotation file {path}: every category needs an "id" '
                    f'and a "name", got {category!r}')
            self.categories.append(
                dict(id=category['id'], name=str(category['name'])))
        if not self.categories:
            raise DatasetError(f'annotation file {path} lists no categories')
        names = self.names
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DatasetError(
                f'annotation file {path}: category names must be unique '
                f'(mmdet finds categories by name); repeated: {repeated}')
        annotations = data['annotations']
        self.has_masks = any(a.get('segmentation') for a in annotations)
        self.lacks_iscrowd = any('iscrowd' not in a for a in annotations)

    @property
    def names(self) -> List[str]:
        return [c['name'] for c in self.categories]

    def ordered(self, classes: Sequence[str]) -> List[str]:
        """``classes`` in this file's category order; an error names the
        classes it does not list."""
        unknown = [c for c in classes if c not in self.names]
        if unknown:
            raise DatasetError(
                f'classes {unknown} are not categories of {self.path}; '
                f'its categories: {self.names}')
        return [name for name in self.names if name in classes]


#: The path options of :func:`add_dataset_arguments` and their help.
_PATH_OPTIONS = (
    ('img_dir', 'folder of the images (the "file_name" of the annotation '
     'files is relative to it)'),
    ('train_ann', 'train annotation file (COCO JSON)'),
    ('val_ann', 'val annotation file (COCO JSON); also the test set unless '
     '--test-ann is given'),
    ('test_ann', 'test annotation file (default: --val-ann)'),
    ('val_img_dir', 'folder of the val images (default: --img-dir)'),
    ('test_img_dir', 'folder of the test images (default: the val folder)'),
)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of the dataset switch."""
    group = parser.add_argument_group(
        'dataset', 'train and test on a COCO-format dataset instead of the '
        "config's: rewires every dataloader, evaluator and the detector's "
        'class count (sets the config variable coco_dataset)')
    for key, text in _PATH_OPTIONS:
        group.add_argument('--' + key.replace('_', '-'), help=text)
    group.add_argument('--classes', nargs='+', metavar='NAME',
                       help='train and evaluate these categories only '
                       '(default: every category of --train-ann)')


def dataset_from_args(args: argparse.Namespace) -> Optional[dict]:
    """The ``coco_dataset`` the options of :func:`add_dataset_arguments`
    describe; None when none of them is given."""
    given = {key: getattr(args, key, None) for key in DATASET_FIELDS}
    given = {key: value for key, value in given.items() if value is not None}
    if not given:
        return None
    required = ('img_dir', 'train_ann', 'val_ann')
    missing = [f"--{key.replace('_', '-')}" for key in required
               if key not in given]
    if missing:
        raise DatasetError(
            'a COCO-format dataset needs --img-dir, --train-ann and '
            f'--val-ann; missing: {" ".join(missing)}')
    return given


def inner_dataset(dataset: ConfigDict, where: str) -> ConfigDict:
    """The dataset config inside wrappers (``RepeatDataset``,
    ``ClassBalancedDataset``, ``MultiImageMixDataset``...)."""
    while 'dataset' in dataset:
        dataset, where = dataset.dataset, where + '.dataset'
    if 'datasets' in dataset:
        raise DatasetError(
            f'{where} combines several datasets ({dataset.get("type")}); '
            'the dataset switch replaces one dataset by one annotation file')
    return dataset


def _is_subclass(type_name, registry, base: type) -> bool:
    """Whether a config's ``type`` (a name in ``registry`` or a class) is
    ``base`` or a subclass of it."""
    cls = registry.get(type_name) if isinstance(type_name, str) else \
        type_name
    return isinstance(cls, type) and issubclass(cls, base)


def _set_num_classes(node, num_classes: int, path: str,
                     changed: List[str]) -> None:
    """Set every ``num_classes`` below ``node`` except the RPN's."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'num_classes':
                node[key] = num_classes
                changed.append(f'{path}.num_classes')
            elif key != 'rpn_head':
                _set_num_classes(value, num_classes, f'{path}.{key}', changed)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            _set_num_classes(value, num_classes, f'{path}.{index}', changed)


def _has_mask_head(model: dict) -> bool:
    roi_head = model.get('roi_head') or {}
    return roi_head.get('mask_head') is not None


def _metric_list(evaluator) -> list:
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else \
        [evaluator]


def use_coco_dataset(cfg: Config,
                     img_dir: str,
                     train_ann: str,
                     val_ann: str,
                     test_ann: Optional[str] = None,
                     val_img_dir: Optional[str] = None,
                     test_img_dir: Optional[str] = None,
                     classes: Optional[Sequence[str]] = None) -> List[str]:
    """Rewire the detection config ``cfg`` (in place) to train on
    ``train_ann`` and to validate and test on ``val_ann`` (``test_ann``),
    images under ``img_dir`` (``val_img_dir``, ``test_img_dir``).

    ``classes`` default to every category of ``train_ann``; they are put
    into the file's category order, which is the order of mmdet's labels.
    ``cfg.coco_dataset`` records the result with absolute paths, so that
    applying it again (a dumped config) changes nothing.

    Returns:
        list[str]: The classes, in label order.

    Raises:
        DatasetError: A missing or malformed annotation file, unknown
            classes, categories ordered differently in the val or test file,
            a mask model on box-only annotations, or a config without
            dataloaders or ``num_classes``.
    """
    val_img_dir = val_img_dir or img_dir
    test_img_dir = test_img_dir or val_img_dir
    files = dict(train=CocoFile(train_ann), val=CocoFile(val_ann))
    files['test'] = files['val'] if test_ann in (None, val_ann) else \
        CocoFile(test_ann)
    images = dict(train=img_dir, val=val_img_dir, test=test_img_dir)
    for split, folder in images.items():
        if not osp.isdir(folder):
            raise DatasetError(f'the {split} image folder {folder} does not '
                               'exist')
    classes = files['train'].ordered(classes or files['train'].names)
    for split in ('val', 'test'):
        if files[split].ordered(classes) != classes:
            raise DatasetError(
                f'{files[split].path} lists the categories {classes} in '
                f'the order {files[split].ordered(classes)}, '
                f'{files["train"].path} in the order {classes}; mmdet numbers '
                'labels in the file order, so the files must agree')

    model = cfg.get('model')
    if model is None:
        raise DatasetError('the config has no model')
    if _has_mask_head(model) and not files['train'].has_masks:
        raise DatasetError(
            f'the model predicts masks but {files["train"].path} has no '
            '"segmentation"; use a box-only config (Faster R-CNN, '
            'RetinaNet, Cascade R-CNN)')
    changed: List[str] = []
    _set_num_classes(model, len(classes), 'model', changed)
    if not changed:
        raise DatasetError(
            'found no num_classes in the model config: is it a detector?')

    palette = (cfg.get('metainfo') or {}).get('palette')
    metainfo = dict(
        classes=tuple(classes),
        palette=list(palette[:len(classes)]) if isinstance(
            palette, (list, tuple)) and len(palette) >= len(classes) else None)
    loaders = [(key, split) for key, split in _LOADERS if cfg.get(key)]
    if not loaders:
        raise DatasetError('the config has no dataloaders')
    for key, split in loaders:
        dataset = inner_dataset(cfg[key].dataset, f'{key}.dataset')
        if not _is_subclass(dataset.get('type'), DATASETS, CocoDataset):
            dataset.type = 'CocoDataset'
        dataset.update(
            data_root='',
            ann_file=files[split].path,
            data_prefix=dict(img=osp.abspath(images[split]) + osp.sep),
            metainfo=metainfo)

    for key, split in _EVALUATORS:
        for metric in _metric_list(cfg.get(key) or []):
            if _is_subclass(metric.get('type'), DET_METRICS, CocoMetric):
                metric.ann_file = files[split].path
                if files[split].lacks_iscrowd:
                    metric.type = 'LenientCocoMetric'
                if 'segm' in _metric_list(metric.get('metric', 'bbox')) \
                        and not files[split].has_masks:
                    raise DatasetError(
                        f'{key} evaluates masks (segm) but '
                        f'{files[split].path} has no "segmentation"')

    if 'data_root' in cfg:
        cfg.data_root = ''
    if 'metainfo' in cfg:
        cfg.metainfo = metainfo
    imports = cfg.setdefault('custom_imports', dict(imports=[]))
    if __name__ not in imports.imports:
        # Registers LenientCocoMetric where the config is run.
        imports.imports = [*imports.imports, __name__]
    cfg[DATASET_KEY] = dict(
        img_dir=osp.abspath(img_dir),
        val_img_dir=osp.abspath(val_img_dir),
        test_img_dir=osp.abspath(test_img_dir),
        train_ann=files['train'].path,
        val_ann=files['val'].path,
        test_ann=files['test'].path,
        classes=list(classes))
    return classes


def apply_coco_dataset(cfg: Config) -> Optional[List[str]]:
    """Apply the config's ``coco_dataset`` variable, if it has one (see
    :func:`use_coco_dataset`); returns the classes, or None."""
    options: Optional[Dict] = cfg.get(DATASET_KEY)
    if not options:
        return None
    unknown = sorted(set(options) - set(DATASET_FIELDS))
    if unknown:
        raise DatasetError(f'{DATASET_KEY} has unknown keys {unknown}; '
                           f'allowed: {list(DATASET_FIELDS)}')
    return use_coco_dataset(cfg, **options)
