"""How the suite starts a training or test run: the repository's own tools,
through the launcher the user chose.

* ``none``: ``python tools/train.py`` / ``tools/test.py`` on this machine;
* ``pytorch``: ``tools/dist_train.sh`` / ``dist_test.sh`` with ``gpus``
  processes (torch's launcher; gloo on a machine without CUDA);
* ``slurm``: ``tools/slurm_train.sh`` / ``slurm_test.sh`` (OpenMMLab's
  ``srun`` convention: ``GPUS``, ``GPUS_PER_NODE``, ``CPUS_PER_TASK`` and
  ``SRUN_ARGS`` in the environment, partition and job name as arguments).
  ``srun`` returns when the job ends, so runs still follow one another.

A :class:`Command` is the exact argument list and the environment
variables it adds; the suite records both for every run.
"""
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .plan import SuiteError

LAUNCHERS = ('none', 'pytorch', 'slurm')


@dataclass
class Command:
    """A command line and the environment variables set for it."""
    argv: List[str]
    env: Dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(argv=list(self.argv), env=dict(self.env))

    def environment(self) -> Dict[str, str]:
        """The process environment: this one, the command's variables, and
        this Python's folder first on PATH (the shell scripts call
        ``python``)."""
        env = dict(os.environ, **self.env)
        env['PATH'] = osp.dirname(sys.executable) + os.pathsep + \
            env.get('PATH', '')
        env.setdefault('PYTHONUNBUFFERED', '1')
        return env


@dataclass
class Launcher:
    """Builds the train and test commands of one run.

    Args:
        kind (str): 'none', 'pytorch' or 'slurm'.
        tools_dir (str): The folder of ``train.py``, ``dist_train.sh``...
        gpus (int): Processes (GPUs) per run for 'pytorch' and 'slurm'.
        gpus_per_node (int): Slurm: GPUs per node (default: ``gpus``).
        cpus_per_task (int): Slurm: CPUs per task.
        partition (str): Slurm partition.
        srun_args (str): Extra ``srun`` arguments (``SRUN_ARGS``).
        port (int): First master port of 'pytorch' runs; each run takes
            the next one, so that a run never meets the last one's port.
    """
    kind: str
    tools_dir: str
    gpus: int = 1
    gpus_per_node: Optional[int] = None
    cpus_per_task: int = 5
    partition: Optional[str] = None
    srun_args: str = ''
    port: int = 29500

    def __post_init__(self) -> None:
        if self.kind not in LAUNCHERS:
            raise SuiteError(f'launcher must be one of {LAUNCHERS}, got '
                             f'{self.kind!r}')
        if self.kind == 'slurm' and not self.partition:
            raise SuiteError('the slurm launcher needs a partition '
                             '(--partition)')
        if not isinstance(self.gpus, int) or self.gpus < 1:
            raise SuiteError(f'gpus must be a positive int, got {self.gpus!r}')

    def _slurm_env(self) -> Dict[str, str]:
        return dict(GPUS=str(self.gpus),
                    GPUS_PER_NODE=str(self.gpus_per_node or self.gpus),
                    CPUS_PER_TASK=str(self.cpus_per_task),
                    SRUN_ARGS=self.srun_args)

    def train(self, config: str, work_dir: str, job_name: str,
              index: int = 0, resume: bool = False) -> Command:
        """Train ``config`` into ``work_dir`` (``--resume`` from its newest
        intact checkpoint when ``resume``)."""
        extra = ['--resume'] if resume else []
        if self.kind == 'none':
            return Command([sys.executable,
                            osp.join(self.tools_dir, 'train.py'), config,
                            '--work-dir', work_dir, *extra])
        if self.kind == 'pytorch':
            return Command(
                ['bash', osp.join(self.tools_dir, 'dist_train.sh'), config,
                 str(self.gpus), '--work-dir', work_dir, *extra],
                dict(PORT=str(self.port + 2 * index)))
        return Command(
            ['bash', osp.join(self.tools_dir, 'slurm_train.sh'),
             self.partition, job_name, config, work_dir, *extra],
            self._slurm_env())

    def test(self, config: str, checkpoint: str, work_dir: str,
             job_name: str, index: int = 0,
             options: Optional[List[str]] = None) -> Command:
        """Test ``checkpoint`` with ``config``, logs in ``work_dir``;
        ``options`` go to ``--cfg-options``."""
        extra = ['--work-dir', work_dir]
        if options:
            extra += ['--cfg-options', *options]
        if self.kind == 'none':
            return Command([sys.executable,
                            osp.join(self.tools_dir, 'test.py'), config,
                            checkpoint, *extra])
        if self.kind == 'pytorch':
            return Command(
                ['bash', osp.join(self.tools_dir, 'dist_test.sh'), config,
                 checkpoint, str(self.gpus), *extra],
                dict(PORT=str(self.port + 2 * index + 1)))
        return Command(
            ['bash', osp.join(self.tools_dir, 'slurm_test.sh'),
             self.partition, job_name, config, checkpoint, *extra],
            self._slurm_env())
