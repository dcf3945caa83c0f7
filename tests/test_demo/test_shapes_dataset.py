import filecmp
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from mmattn.demo import SHAPE_CLASSES, generate_shapes_dataset


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes'))
    return root, generate_shapes_dataset(root, num_train=12, num_val=4,
                                         image_size=(80, 112), seed=3)


def test_annotations_are_valid_coco(dataset):
    root, files = dataset
    coco = COCO(files['train'])
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == \
        list(SHAPE_CLASSES)
    assert len(coco.getImgIds()) == 12
    kinds = set()
    for ann in coco.loadAnns(coco.getAnnIds()):
        image = coco.loadImgs(ann['image_id'])[0]
        mask = coco.annToMask(ann)
        assert mask.shape == (80, 112)
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= 112 and y + h <= 80
        ys, xs = np.nonzero(mask)
        # The box is the visible mask's extent (polygon rasterisation may
        # differ from cv2's fill by a pixel along edges).
        assert abs(xs.min() - x) <= 1 and abs(ys.min() - y) <= 1
        assert abs(mask.sum() - ann['area']) <= 0.15 * ann['area'] + 8
        kinds.add('rle' if isinstance(ann['segmentation'], dict) else 'poly')
        assert osp.exists(osp.join(root, 'train', image['file_name']))
    assert kinds == {'rle', 'poly'}, 'expected occluded (RLE) and whole shapes'


def test_occluded_instances_keep_only_their_visible_part(dataset):
    _, files = dataset
    data = json.load(open(files['train']))
    for ann in data['annotations']:
        if isinstance(ann['segmentation'], dict):
            rle = dict(ann['segmentation'])
            rle['counts'] = rle['counts'].encode()
            assert mask_utils.area(rle) == ann['area']


def test_same_seed_same_files(tmp_path, dataset):
    root, _ = dataset
    other = str(tmp_path / 'again')
    generate_shapes_dataset(other, num_train=12, num_val=4,
                            image_size=(80, 112), seed=3)
    assert filecmp.cmp(osp.join(root, 'annotations', 'val.json'),
                       osp.join(other, 'annotations', 'val.json'),
                       shallow=False)
    assert filecmp.cmp(osp.join(root, 'val', '000002.png'),
                       osp.join(other, 'val', '000002.png'), shallow=False)


def test_different_seed_different_images(tmp_path):
    a = generate_shapes_dataset(str(tmp_path / 'a'), 2, 1, seed=0)
    b = generate_shapes_dataset(str(tmp_path / 'b'), 2, 1, seed=1)
    assert open(a['train']).read() != open(b['train']).read()


def test_invalid_size_range_is_rejected(tmp_path):
    with pytest.raises(ValueError, match='size_range=.*min\\(image_size\\)'):
        generate_shapes_dataset(str(tmp_path), 1, 1, image_size=(32, 32),
                                size_range=(8, 40))
