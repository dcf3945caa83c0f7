"""Run a benchmark suite: every (model, seed) trained and tested through the
repository's tools, each result recorded in the results store.

For each run the suite

1. resolves the run's config (the model's config, its backbone variant,
   the seed, the run length, the dataset and the suite's options, exactly
   as ``tools/train.py`` applies them) and writes it to
   ``runs/<model>/seed_<seed>/config.py``: the record of what ran, and
   what the tools are given;
2. checks that its pretrained checkpoints
   (:func:`~mmattn.engine.pretrained.check_pretrained_weights`) and
   annotation files exist;
3. counts parameters and multiply-accumulates with
   :mod:`mmattn.analysis.complexity` (at the test pipeline's image size);
4. trains with ``tools/train.py`` (or ``dist_train.sh`` / ``slurm_train.sh``,
   :mod:`mmattn.suite.launch`) into ``train/``, with ``--resume`` when an
   earlier attempt left checkpoints; a run whose final checkpoint exists is
   not trained again;
5. tests the final checkpoint with ``tools/test.py`` into ``test/`` with a
   test batch of 1 image per process, so that mmengine's mean iteration
   time, less its data time, is the inference latency per image;
6. records the metrics of the test's own metric file (mmengine's
   ``<test>/<timestamp>/<timestamp>.json``), the training speed (mmengine's
   ``vis_data/scalars.json`` of the training), the git commit and the
   environment.

A run that is done is skipped; a run that failed (its error and the end of
its log are recorded) or was interrupted is tried again, resuming its
training, the next time the suite runs. A failing run does not stop the
others. SIGINT/SIGTERM stop the suite after passing the signal on to the
running tool (whose training saves a checkpoint, see
:class:`~mmattn.engine.GracefulInterruptHook`).
"""
import glob
import json
import os
import os.path as osp
import platform
import re
import signal
import socket
import subprocess
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config

from mmattn.analysis.complexity import measure
from mmattn.analysis.models import ModelSpec
from mmattn.cli import apply_run_options
from mmattn.engine.dataset import inner_dataset
from mmattn.engine.pretrained import check_pretrained_weights
from mmattn.engine.schedule import remember_schedule_length
from .launch import Command, Launcher
from .plan import Model, Suite
from .store import ResultStore

#: Lines of a failed tool's log kept with its error.
LOG_TAIL_LINES = 40
#: The train loop's progress in mmengine's log lines.
_ITER_PROGRESS = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')
_EPOCH_PROGRESS = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')


class RunFailed(Exception):
    """A run could not finish; the message says why."""


class SuiteInterrupted(Exception):
    """SIGINT/SIGTERM stopped the suite."""


def run_directory(work_dir: str, model: Model, seed: int) -> str:
    safe = re.sub(r'[^A-Za-z0-9._-]+', '_', model.name)
    return osp.join(work_dir, 'runs', safe, f'seed_{seed}')


def resolve_config(suite: Suite, model: Model, seed: int,
                   work_dir: str) -> Config:
    """The config the run trains and tests with."""
    cfg = Config.fromfile(model.config)
    # The variant first (a separate merge: mmengine's merge_from_dict lets
    # a later 'model' key replace earlier 'model.x.y' ones), then what every
    # run sets, as tools/train.py applies it.
    remember_schedule_length(cfg)
    cfg.merge_from_dict(suite.variant_options(model, seed))
    apply_run_options(cfg, suite.run_options(), suite.dataset)
    cfg.work_dir = work_dir
    return cfg


def run_length(cfg: Config) -> Tuple[int, bool]:
    """(length, by_epoch) of the config's train loop."""
    loop = cfg.train_cfg
    if loop.get('max_epochs') is not None:
        return int(loop.max_epochs), True
    return int(loop.max_iters), False


def final_checkpoint(cfg: Config, train_dir: str) -> str:
    length, by_epoch = run_length(cfg)
    return osp.join(train_dir, f'{"epoch" if by_epoch else "iter"}_'
                    f'{length}.pth')


def check_annotation_files(cfg: Config) -> None:
    """Fail now, not in the tool, when an annotation file is missing."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = inner_dataset(cfg[key].dataset, f'{key}.dataset')
        path = osp.join(dataset.get('data_root') or '', dataset.ann_file)
        if not osp.isfile(path):
            raise RunFailed(f'{key}: annotation file {osp.abspath(path)} '
                            'does not exist')


def flops_input_size(cfg: Config) -> Tuple[int, int]:
    """(H, W) of the test pipeline's ``Resize`` (mmdet writes (W, H))."""
    pipeline = cfg.test_dataloader.dataset.get('pipeline') or []
    for step in pipeline:
        if step.get('type') == 'Resize' and step.get('scale') is not None:
            scale = step['scale']
            width, height = (scale, scale) if isinstance(scale, int) else \
                scale
            return int(height), int(width)
    raise RunFailed('no Resize with a scale in the test pipeline: give '
                    '--flops-input-size')


def count_complexity(name: str, cfg: Config,
                     input_size: Tuple[int, int]) -> Dict:
    """Parameters and MACs of the detector of ``cfg`` (shapes only)."""
    model = cfg.model.to_dict()
    if isinstance(model.get('backbone'), dict):
        model['backbone']['init_cfg'] = None
    result = measure(ModelSpec(name, 'detector', model, from_config=True),
                     input_size=input_size)
    return dict(params=result.params,
                trainable_params=result.trainable_params,
                gflops=result.conv_fc_macs / 1e9,
                gmacs_total=result.total_macs / 1e9,
                flops_input=list(result.input_shape))


def git_state(repo: str) -> Tuple[Optional[str], Optional[bool]]:
    """(commit, has uncommitted changes) of the checkout, or (None, None)."""
    try:
        commit = subprocess.run(
            ['git', '-C', repo, 'rev-parse', 'HEAD'], capture_output=True,
            text=True, check=True).stdout.strip()
        status = subprocess.run(
            ['git', '-C', repo, 'status', '--porcelain',
             '--untracked-files=no'], capture_output=True, text=True,
            check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(status.strip())


def environment(launcher: Launcher) -> Dict:
    """Versions, device and host of this machine."""
    import mmcv
    import mmdet
    import mmengine
    import mmattn
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            found = re.search(r'model name\s*:\s*(.*)', f.read())
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    return dict(
        python=platform.python_version(), torch=torch.__version__,
        mmcv=mmcv.__version__, mmengine=mmengine.__version__,
        mmdet=mmdet.__version__, mmattn=mmattn.__version__,
        cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available()
        else None,
        cpu=cpu, cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        omp_num_threads=os.environ.get('OMP_NUM_THREADS'),
        host=socket.gethostname(), launcher=launcher.kind, gpus=launcher.gpus,
        load_average=list(os.getloadavg()) if hasattr(os, 'getloadavg')
        else None)


def read_test_metrics(test_dir: str) -> Tuple[str, Dict[str, float]]:
    """(file, values) of the newest metric file mmengine's test wrote."""
    files = sorted(glob.glob(osp.join(test_dir, '*', '*.json')))
    if not files:
        raise RunFailed(f'the test wrote no metric file under {test_dir}')
    with open(files[-1]) as f:
        values = json.load(f)
    return files[-1], {k: float(v) for k, v in values.items()
                       if isinstance(v, (int, float))}


def training_speed(train_dir: str) -> Optional[float]:
    """Training iterations per second: 1 / the mean of mmengine's logged
    iteration times, leaving out the first logged window (start-up)."""
    times = []
    for path in sorted(glob.glob(osp.join(train_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        times += [r['time'] for r in records if 'loss' in r and 'time' in r
                  ][1:]
    return 1 / float(np.mean(times)) if times else None


class BenchmarkRunner:
    """Runs a :class:`~mmattn.suite.plan.Suite` into ``work_dir``.

    Args:
        suite (Suite): What to run.
        work_dir (str): Where runs, ``results.sqlite`` and the leaderboard
            go.
        launcher (Launcher): How the tools are started.
        input_size (tuple, optional): (H, W) of the complexity count
            (default: the test pipeline's Resize).
        repo (str): The checkout whose commit is recorded.
        on_progress (callable, optional): ``on_progress(event, **info)``,
            events 'start' (``model``, ``seed``, ``index``, ``total``),
            'step' (``fraction`` of the current run), 'end' (``record``).
    """

    def __init__(self, suite: Suite, work_dir: str, launcher: Launcher,
                 input_size: Optional[Tuple[int, int]] = None,
                 repo: Optional[str] = None,
                 on_progress: Optional[Callable] = None) -> None:
        self.suite = suite
        self.work_dir = osp.abspath(work_dir)
        self.launcher = launcher
        self.input_size = input_size
        self.repo = repo or osp.dirname(launcher.tools_dir)
        self.on_progress = on_progress or (lambda event, **info: None)
        os.makedirs(self.work_dir, exist_ok=True)
        self.store = ResultStore(osp.join(self.work_dir, 'results.sqlite'))
        self._child: Optional[subprocess.Popen] = None
        self._stop: Optional[int] = None

    # -- signals ----------------------------------------------------------

    def _on_signal(self, number: int, frame) -> None:
        self._stop = number
        if self._child is not None and self._child.poll() is None:
            self._child.send_signal(number)

    def _install_handlers(self) -> dict:
        previous = {}
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, self._on_signal)
        return previous

    # -- one tool ---------------------------------------------------------

    def _execute(self, command: Command, log_file: str,
                 progress: Optional[Callable[[str], None]] = None) -> None:
        """Run ``command``, its output into ``log_file`` (appended, so an
        attempt's log follows the previous one's)."""
        if self._stop is not None:
            raise SuiteInterrupted(signal.Signals(self._stop).name)
        with open(log_file, 'a') as log:
            log.write(f'\n$ {" ".join(command.argv)}\n')
            log.flush()
            self._child = subprocess.Popen(
                command.argv, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, bufsize=1,
                env=command.environment())
            try:
                for line in self._child.stdout:
                    log.write(line)
                    log.flush()
                    if progress is not None:
                        progress(line)
                code = self._child.wait()
            finally:
                self._child = None
        if self._stop is not None:
            raise SuiteInterrupted(signal.Signals(self._stop).name)
        if code != 0:
            with open(log_file) as f:
                tail = ''.join(f.readlines()[-LOG_TAIL_LINES:])
            raise RunFailed(f'{command.argv[1]} exited with {code}; the end '
                            f'of {log_file}:\n{tail}')

    def _train_progress(self, cfg: Config) -> Callable[[str], None]:
        length, by_epoch = run_length(cfg)

        def parse(line: str) -> None:
            if by_epoch:
                found = _EPOCH_PROGRESS.search(line)
                if found:
                    epoch, step, steps = map(int, found.groups())
                    self.on_progress('step', fraction=(
                        epoch - 1 + step / steps) / length)
            else:
                found = _ITER_PROGRESS.search(line)
                if found:
                    self.on_progress('step', fraction=int(found.group(1)) /
                                     length)

        return parse

    # -- one run ----------------------------------------------------------

    def prepare(self, model: Model, seed: int, index: int) -> Dict:
        """The run's folder, resolved config, final checkpoint and the
        train and test commands (nothing is written)."""
        run_dir = run_directory(self.work_dir, model, seed)
        train_dir = osp.join(run_dir, 'train')
        config_path = osp.join(run_dir, 'config.py')
        cfg = resolve_config(self.suite, model, seed, train_dir)
        checkpoint = final_checkpoint(cfg, train_dir)
        job = f'{model.name}_seed{seed}'
        return dict(
            run_dir=run_dir, train_dir=train_dir, cfg=cfg,
            config_path=config_path, checkpoint=checkpoint,
            test_dir=osp.join(run_dir, 'test'),
            commands=dict(
                train=self.launcher.train(
                    config_path, train_dir, job, index,
                    resume=bool(glob.glob(osp.join(train_dir, '*.pth')))),
                test=self.launcher.test(
                    config_path, checkpoint, osp.join(run_dir, 'test'), job,
                    index, ['test_dataloader.batch_size=1'])))

    def run_one(self, model: Model, seed: int, index: int) -> Dict:
        """Train and test ``model`` with ``seed`` (or finish an earlier
        attempt); returns its record."""
        run_dir = run_directory(self.work_dir, model, seed)
        os.makedirs(run_dir, exist_ok=True)
        run_id = self.store.start(
            model.name, seed, baseline=model.baseline, config=model.config,
            work_dir=run_dir,
            options=dict(self.suite.variant_options(model, seed),
                         **self.suite.run_options(),
                         dataset=self.suite.dataset))
        try:
            run = self.prepare(model, seed, index)
            cfg, commands = run['cfg'], run['commands']
            checkpoint, train_dir = run['checkpoint'], run['train_dir']
            cfg.dump(run['config_path'])
            commit, dirty = git_state(self.repo)
            self.store.update(
                run_id, resolved_config=cfg.pretty_text,
                commands={k: c.to_dict() for k, c in commands.items()},
                git_commit=commit, git_dirty=dirty,
                environment=environment(self.launcher))
            check_pretrained_weights(cfg)
            check_annotation_files(cfg)
            self.store.update(run_id, **count_complexity(
                model.name, cfg, self.input_size or flops_input_size(cfg)))

            timing = {}
            if not osp.isfile(checkpoint):
                started = time.time()
                self._execute(commands['train'],
                              osp.join(run_dir, 'train.log'),
                              self._train_progress(cfg))
                if not osp.isfile(checkpoint):
                    raise RunFailed(f'training ended without {checkpoint}')
                # (a run trained by an earlier attempt keeps its time)
                timing['train_seconds'] = time.time() - started
            trained = time.time()
            self.on_progress('step', fraction=1.0)
            self._execute(commands['test'], osp.join(run_dir, 'test.log'))
            metrics_file, values = read_test_metrics(run['test_dir'])
            metrics = {k: v for k, v in values.items()
                       if k not in ('time', 'data_time')}
            latency = values.get('time', 0) - values.get('data_time', 0)
            self.store.finish(
                run_id, metrics, metrics_file=metrics_file,
                latency_ms=1000 * latency if 'time' in values else None,
                train_iter_per_s=training_speed(train_dir),
                test_seconds=time.time() - trained, **timing)
        except SuiteInterrupted:
            raise  # stays 'running': resumed next time
        except Exception as error:  # noqa: BLE001 (recorded, others go on)
            self.store.fail(run_id, f'{type(error).__name__}: {error}')
        return self.store.get(model.name, seed)

    def run(self) -> List[Dict]:
        """Every run that is not done yet, in order; returns all records."""
        runs = self.suite.runs()
        todo = [(m, s) for m, s in runs
                if (self.store.get(m.name, s) or {}).get('status') != 'done']
        self.on_progress('plan', total=len(runs),
                         done=len(runs) - len(todo))
        previous = self._install_handlers()
        try:
            for index, (model, seed) in enumerate(runs):
                if (model, seed) not in todo:
                    continue
                self.on_progress('start', model=model.name, seed=seed,
                                 index=index, total=len(runs))
                record = self.run_one(model, seed, index)
                self.on_progress('end', record=record)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        return self.store.runs()
