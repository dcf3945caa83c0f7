import pytest
import torch

import mmattn  # noqa: F401  (registers every module)
from mmattn.demo import generate_shapes_dataset


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def shapes_data(tmp_path_factory) -> str:
    """A tiny COCO-format shapes dataset (6 train, 3 val images of 96x96)."""
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes_dataset(root, num_train=6, num_val=3, image_size=(96, 96),
                            size_range=(16, 48), seed=1)
    return root
