import importlib.util
import os.path as osp

import pytest

from mmattn_test_utils import REPO_ROOT


@pytest.fixture(scope='session')
def load_tool():
    """Import a script under tools/ as a module (its ``main(argv)`` runs the
    tool in this process, without a new interpreter)."""
    cache = {}

    def load(relative_path: str):
        if relative_path not in cache:
            path = osp.join(REPO_ROOT, 'tools', relative_path)
            name = 'tool_' + relative_path.replace('/', '_')[:-3]
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            cache[relative_path] = module
        return cache[relative_path]

    return load
