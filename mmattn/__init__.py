"""mmattn: CNN attention modules for MMDetection and MMPretrain.

Importing mmattn checks the OpenMMLab stack and registers every module.
"""
import warnings
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

from packaging.version import Version

from .version import __version__

# mmengine, mmcv and mim import pkg_resources, which setuptools (pinned
# < 81 for them) deprecates with a warning that would otherwise open the
# output of every command, before a tool's own error message.
warnings.filterwarnings('ignore', category=UserWarning,
                        message='pkg_resources is deprecated as an API')

# (distribution, lowest allowed, first disallowed)
_REQUIRED = (
    ('mmengine', '0.10.7', '1.0.0'),
    ('mmcv', '2.1.0', '2.2.0'),
    ('mmdet', '3.3.0', '3.4.0'),
    ('mmpretrain', '1.2.0', '1.3.0'),
)


def _check_stack() -> None:
    problems = []
    for name, low, high in _REQUIRED:
        try:
            found = Version(installed_version(name))
        except PackageNotFoundError:
            problems.append(f'{name} is not installed (need >={low},<{high})')
            continue
        if not Version(low) <= found < Version(high):
            problems.append(f'{name} {found} is installed, mmattn needs '
                            f'>={low},<{high}')
    if problems:
        raise ImportError(
            'mmattn cannot run with this OpenMMLab stack: ' +
            '; '.join(problems) + '. Run `make env` (tools/bootstrap.sh) to '
            'install the pinned versions.')
    try:
        from mmcv import ops  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            'mmcv is installed without its compiled ops (mmcv-lite or a '
            'build without MMCV_WITH_OPS=1); mmdet needs them. Run `make env` '
            'to build mmcv 2.1.0 with ops.') from exc


_check_stack()

from . import models  # noqa: E402,F401  (registers all modules)
from . import engine  # noqa: E402,F401  (registers the hooks)

__all__ = ['__version__']
