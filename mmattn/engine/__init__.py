"""Runtime pieces for mmengine's Runner. Importing this package (``import
mmattn`` does) registers, in mmengine's root registries, the hooks by their
plain names, the ``atomic_local`` file backend, and checkpoint loaders that
load weights only for every checkpoint scheme (see :mod:`.loading`)."""
from .checkpoint import (WeightsOnlyCheckpointHook, message_hub_from_plain,
                         message_hub_to_plain)
from .interrupt import GracefulInterruptHook, TrainingInterrupted
from .loading import (UNSAFE_CONFIG_KEY, UNSAFE_FLAG, CheckpointLoadError,
                      UnsafeCheckpointError, allow_unsafe_checkpoint_load,
                      check_checkpoint_file, load_checkpoint_file)
from .resume import find_resumable_checkpoint
from .saving import AtomicLocalBackend, write_atomically

__all__ = [
    'AtomicLocalBackend', 'CheckpointLoadError', 'GracefulInterruptHook',
    'TrainingInterrupted', 'UNSAFE_CONFIG_KEY', 'UNSAFE_FLAG',
    'UnsafeCheckpointError', 'WeightsOnlyCheckpointHook',
    'allow_unsafe_checkpoint_load', 'check_checkpoint_file',
    'find_resumable_checkpoint', 'load_checkpoint_file',
    'message_hub_from_plain', 'message_hub_to_plain', 'write_atomically'
]
