"""Speed and peak memory of several models, each against the plain ResNet of
its depth measured in the same run.

Timing is :mod:`torch.utils.benchmark`'s: a model is timed by
``Timer.blocked_autorange`` (untimed calls that size the blocks, then
blocks of calls of at least ``min_run_time`` seconds; on CUDA its timer
synchronises the device at both ends of every block, so that the times
cover the GPU's work). What no library offers is the protocol around it:

* **Interleaved rounds.** All models are built in this process; each of
  ``rounds`` rounds times every model once, in an order that rotates every
  round, so that load on a shared machine hits all of them alike and none
  always runs first. The untimed calls of each round also warm the caches
  that the previous model evicted.
* **Ratios from the same run.** A model's time per iteration is the median
  over rounds; its ratio to the plain ResNet of the same depth, built the
  same way (same kind, variant and input; added to the run when not
  listed), is the median over rounds of the two models' times *in that
  round*, so that a slow round slows both. Spread: interquartile range
  over rounds / median.
* **Peak memory** of one iteration: its growth over the memory held before
  it (weights, inputs and the runtime's own pools excluded). CUDA:
  ``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` before,
  in this process. CPU: the growth of the peak resident set size
  (``VmHWM``, reset through ``/proc/self/clear_refs``; Linux) of a fresh
  Python process per model, variant and mode, started as a subprocess
  after one warm-up iteration, with glibc's mmap threshold fixed at 64 KiB
  (``MALLOC_MMAP_THRESHOLD_``) so that freed tensors go back to the system
  and the warm-up's do not hide the measured iteration's.

Nothing here forks: forking a process whose torch thread pools have
started can deadlock the child (pytest after other tests, a notebook).
Memory subprocesses start a new interpreter.

Modes: ``forward`` (eval mode, ``torch.no_grad``) and ``train`` (train
mode — mmdet's ``norm_eval`` keeps detection backbones' BN frozen —
forward, a scalar loss and ``backward``; no optimizer step). Detectors run
``predict`` / ``loss`` on random images with random boxes (and masks).
Variants: memory format (``contiguous`` / ``channels_last``: model and
input converted), precision (``fp32`` / ``bf16``: ``torch.autocast``) and
``torch.compile`` of the backbone (the whole model when it is a backbone).

The CUDA path (device ``cuda``) has not been run: this project's machine
has no GPU. See the README ("Complexity and speed") for running it on one.
"""
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch.utils import benchmark

from .models import ModelSpec, baseline_of, build, model_forward, same_model

MODES = ('forward', 'train')
MODE_LABELS = {'forward': 'fwd', 'train': 'fwd+bwd'}
MEMORY_FORMATS = {
    'contiguous': torch.contiguous_format,
    'channels_last': torch.channels_last
}
PRECISIONS = ('fp32', 'bf16')
DEFAULT_SIZES = {
    'classifier': (224, 224),
    'backbone': (800, 1216),
    'detector': (800, 1216)
}
DEFAULT_BATCH = {'classifier': 8, 'backbone': 1, 'detector': 1}
#: glibc's mmap threshold in the memory subprocesses (see the docstring).
MMAP_THRESHOLD = 64 * 1024


@dataclass(frozen=True)
class Variant:
    """How a model runs: memory format, precision and compilation."""
    memory_format: str = 'contiguous'
    precision: str = 'fp32'
    compiled: bool = False

    @property
    def label(self) -> str:
        return (f'{self.memory_format}, {self.precision}, '
                f'{"compiled" if self.compiled else "eager"}')


@dataclass
class BenchmarkConfig:
    """What to measure and how.

    Attributes:
        device (str): 'cpu' or 'cuda[:i]'.
        input_size (tuple, optional): (H, W); None: per kind
            (:data:`DEFAULT_SIZES`).
        batch_size (int, optional): None: per kind (:data:`DEFAULT_BATCH`).
        modes (tuple): Subset of :data:`MODES`.
        rounds (int): Timed rounds (see the module docstring).
        warmup (int): Untimed iterations per model and mode before the
            rounds (a compiled model compiles in the first).
        min_run_time (float): Seconds of timed calls per model and round
            (``blocked_autorange``); at least one call is timed.
        threads (int, optional): torch CPU threads (default: torch's).
        memory_formats (tuple): Subset of :data:`MEMORY_FORMATS`.
        precisions (tuple): Subset of :data:`PRECISIONS`.
        compile (bool): Also run every model ``torch.compile``'d.
        compile_backend (str): ``torch.compile``'s backend.
        memory (bool): Measure peak memory.
        skip_slower_than (float, optional): Seconds; a model whose last
            warm-up iteration (without warm-up: its first round) takes
            longer is not timed further in that mode.
    """
    device: str = 'cpu'
    input_size: Optional[Tuple[int, int]] = None
    batch_size: Optional[int] = None
    modes: Tuple[str, ...] = MODES
    rounds: int = 7
    warmup: int = 1
    min_run_time: float = 0.2
    threads: Optional[int] = None
    memory_formats: Tuple[str, ...] = ('contiguous', )
    precisions: Tuple[str, ...] = ('fp32', )
    compile: bool = False
    compile_backend: str = 'inductor'
    memory: bool = True
    skip_slower_than: Optional[float] = None

    def __post_init__(self) -> None:
        for name, values, allowed in (
                ('modes', self.modes, MODES),
                ('memory_formats', self.memory_formats, tuple(MEMORY_FORMATS)),
                ('precisions', self.precisions, PRECISIONS)):
            wrong = [v for v in values if v not in allowed]
            if wrong or not values:
                raise ValueError(f'BenchmarkConfig: {name}={values!r} is '
                                 f'invalid; choose from {allowed}')
        if self.rounds < 1 or self.warmup < 0 or self.min_run_time < 0:
            raise ValueError(
                f'BenchmarkConfig: rounds={self.rounds}, warmup='
                f'{self.warmup}, min_run_time={self.min_run_time} are '
                'invalid; rounds >= 1, warmup >= 0, min_run_time >= 0')

    def variants(self) -> List[Variant]:
        return [
            Variant(memory_format, precision, compiled)
            for compiled in ((False, True) if self.compile else (False, ))
            for memory_format in self.memory_formats
            for precision in self.precisions
        ]

    def size_of(self, spec: ModelSpec) -> Tuple[int, int]:
        return tuple(self.input_size or DEFAULT_SIZES[spec.kind])

    def batch_of(self, spec: ModelSpec) -> int:
        return self.batch_size or DEFAULT_BATCH[spec.kind]


@dataclass
class Row:
    """One model in one variant: what was measured.

    ``times[mode]`` holds one time per round (seconds per iteration, the
    round's median; None where the model was not timed that round).
    ``baseline`` is the index of its plain-ResNet row.
    """
    name: str
    kind: str
    variant: Variant
    input_size: Tuple[int, int]
    batch_size: int
    params: Optional[int] = None
    baseline: Optional[int] = None
    added_as_baseline: bool = False
    times: Dict[str, List[Optional[float]]] = field(default_factory=dict)
    peak_memory: Dict[str, Optional[int]] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None

    def _timed(self, mode: str) -> List[float]:
        return [t for t in self.times.get(mode, []) if t is not None]

    def median(self, mode: str) -> Optional[float]:
        times = self._timed(mode)
        return statistics.median(times) if times else None

    def throughput(self, mode: str) -> Optional[float]:
        median = self.median(mode)
        return self.batch_size / median if median else None

    def spread(self, mode: str) -> Optional[float]:
        """Interquartile range over rounds / median."""
        times = self._timed(mode)
        if len(times) < 2:
            return None
        low, _, high = statistics.quantiles(times, n=4, method='inclusive')
        return (high - low) / statistics.median(times)


@dataclass
class BenchmarkResult:
    config: BenchmarkConfig
    rows: List[Row]
    environment: dict

    def ratio(self, row: Row, mode: str) -> Optional[float]:
        """Median over rounds of the row's time over its baseline's time in
        the same round."""
        if row.baseline is None:
            return None
        base = self.rows[row.baseline].times.get(mode, [])
        pairs = [a / b for a, b in zip(row.times.get(mode, []), base)
                 if a is not None and b]
        return statistics.median(pairs) if pairs else None

    def to_dict(self) -> dict:
        return dict(
            config=asdict(self.config),
            environment=self.environment,
            rows=[
                dict(asdict(row), label=row.variant.label,
                     median_s={m: row.median(m) for m in row.times},
                     throughput={m: row.throughput(m) for m in row.times},
                     ratio={m: self.ratio(row, m) for m in row.times})
                for row in self.rows
            ])


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)


def scalar_loss(outputs) -> torch.Tensor:
    """Sum of the means of every floating tensor in ``outputs``."""
    terms = [t.float().mean() for t in _tensors(outputs)
             if t.is_floating_point() and t.requires_grad]
    if not terms:
        raise ValueError('the forward pass returned no tensor with a grad')
    return sum(terms)


def detection_samples(model, batch_size: int, size: Tuple[int, int],
                      device, num_boxes: int = 4, seed: int = 0) -> list:
    """Random COCO-like data samples (boxes, labels, masks when the model
    has a mask head) for ``model.predict`` and ``model.loss``."""
    import numpy as np
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    height, width = size
    head = getattr(model, 'bbox_head', None)
    roi_head = getattr(model, 'roi_head', None)
    if head is None and roi_head is not None:
        head = roi_head.bbox_head
        if isinstance(head, torch.nn.ModuleList):
            head = head[-1]
    num_classes = getattr(head, 'num_classes', 80)
    with_mask = bool(getattr(roi_head, 'with_mask', False))
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(batch_size):
        sample = DetDataSample(metainfo=dict(
            img_id=index, img_shape=(height, width),
            ori_shape=(height, width), pad_shape=(height, width),
            batch_input_shape=(height, width), scale_factor=(1.0, 1.0),
            flip=False))
        box_w = rng.uniform(0.1, 0.5, num_boxes) * width
        box_h = rng.uniform(0.1, 0.5, num_boxes) * height
        x0 = rng.uniform(0, 1, num_boxes) * (width - box_w)
        y0 = rng.uniform(0, 1, num_boxes) * (height - box_h)
        boxes = np.stack([x0, y0, x0 + box_w, y0 + box_h], 1)
        instances = InstanceData()
        instances.bboxes = torch.tensor(boxes, dtype=torch.float32,
                                        device=device)
        instances.labels = torch.tensor(
            rng.integers(0, num_classes, num_boxes), device=device)
        if with_mask:
            masks = np.zeros((num_boxes, height, width), dtype=np.uint8)
            for i, (a, b, c, d) in enumerate(boxes.astype(int)):
                masks[i, b:d, a:c] = 1
            instances.masks = BitmapMasks(masks, height, width)
        sample.gt_instances = instances
        samples.append(sample)
    return samples


def _proc_status_kb(key: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Subject:
    """A model built for one variant, its input and one step per mode."""

    def __init__(self, spec: ModelSpec, variant: Variant,
                 config: BenchmarkConfig) -> None:
        self.spec = spec
        self.variant = variant
        self.device = torch.device(config.device)
        torch.manual_seed(0)
        self.model = build(spec, self.device)
        self.params = sum(p.numel() for p in self.model.parameters())
        memory_format = MEMORY_FORMATS[variant.memory_format]
        self.model.to(memory_format=memory_format)
        size = config.size_of(spec)
        self.inputs = torch.randn(
            config.batch_of(spec), 3, *size,
            device=self.device).contiguous(memory_format=memory_format)
        self.samples = None
        if spec.kind == 'detector':
            self.samples = detection_samples(
                self.model, config.batch_of(spec), size, self.device)
        if variant.compiled:
            backend = config.compile_backend
            if spec.kind == 'backbone':
                self.model = torch.compile(self.model, backend=backend)
            else:
                self.model.backbone = torch.compile(self.model.backbone,
                                                    backend=backend)

    def _precision(self):
        if self.variant.precision == 'bf16':
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def _forward(self):
        if self.spec.kind == 'detector':
            return self.model.predict(self.inputs, self.samples,
                                      rescale=False)
        return model_forward(self.spec, self.model, self.inputs)

    def _loss(self) -> torch.Tensor:
        if self.spec.kind == 'detector':
            losses = self.model.loss(self.inputs, self.samples)
            return self.model.parse_losses(losses)[0]
        return scalar_loss(self._forward())

    def begin(self, mode: str) -> None:
        self.model.train(mode == 'train')

    def step(self, mode: str) -> None:
        """One iteration: forward without gradients, or forward, loss and
        backward."""
        if mode == 'forward':
            with torch.no_grad(), self._precision():
                self._forward()
            return
        self.model.zero_grad(set_to_none=True)
        with self._precision():
            loss = self._loss()
        loss.backward()

    def timed_step(self, mode: str) -> float:
        """Seconds of one :meth:`step` (warm-up; the rounds use
        ``torch.utils.benchmark``)."""
        start = benchmark.utils.timer.timer()
        self.step(mode)
        return benchmark.utils.timer.timer() - start

    def peak_memory(self, mode: str) -> Optional[int]:
        """Bytes the next :meth:`step` needs above what is held before it
        (see the module docstring); None where it cannot be read."""
        self.model.zero_grad(set_to_none=True)
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            before = torch.cuda.memory_allocated(self.device)
            self.step(mode)
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - before
        before = _proc_status_kb('VmRSS')
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # resets VmHWM to the current VmRSS
        except OSError:
            return None
        self.step(mode)
        peak = _proc_status_kb('VmHWM')
        if before is None or peak is None:
            return None
        return max(0, peak - before) * 1024


def memory_job(job_path: str, result_path: str) -> None:
    """The memory subprocess: build the model of a pickled
    (spec, variant, mode, config), run one warm-up step and write the next
    step's peak memory growth as JSON."""
    import mmattn  # noqa: F401  (registers the modules)
    with open(job_path, 'rb') as f:
        spec, variant, mode, config = pickle.load(f)
    if config.threads:
        torch.set_num_threads(config.threads)
    subject = Subject(spec, variant, config)
    subject.begin(mode)
    subject.step(mode)
    with open(result_path, 'w') as f:
        json.dump(dict(peak_memory=subject.peak_memory(mode)), f)


def peak_memory_in_subprocess(spec: ModelSpec, variant: Variant, mode: str,
                              config: BenchmarkConfig) -> Optional[int]:
    """:meth:`Subject.peak_memory` in a fresh Python process."""
    with tempfile.TemporaryDirectory() as folder:
        job, result = (os.path.join(folder, name)
                       for name in ('job.pkl', 'result.json'))
        with open(job, 'wb') as f:
            pickle.dump((spec, variant, mode, config), f)
        code = ('import sys; from mmattn.analysis.benchmark import '
                'memory_job; memory_job(*sys.argv[1:])')
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD),
                   PYTHONPATH=os.pathsep.join(filter(None, sys.path)))
        done = subprocess.run([sys.executable, '-c', code, job, result],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f'memory subprocess exited with {done.returncode}:\n'
                + done.stderr[-2000:])
        with open(result) as f:
            return json.load(f)['peak_memory']


def with_baselines(specs: List[ModelSpec]) -> List[Tuple[ModelSpec, bool]]:
    """``specs`` followed by the plain-ResNet baselines they lack, each as
    (spec, added)."""
    listed = list(specs)
    added = []
    for spec in specs:
        base = baseline_of(spec)
        if base is not None and not any(
                same_model(base, s) for s in listed + added):
            added.append(base)
    return [(s, False) for s in listed] + [(s, True) for s in added]


def load_average() -> Optional[List[float]]:
    if not hasattr(os, 'getloadavg'):
        return None
    return [round(value, 2) for value in os.getloadavg()]


def environment(config: BenchmarkConfig) -> dict:
    env = dict(
        torch=torch.__version__,
        python=platform.python_version(),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        torch_threads=config.threads or torch.get_num_threads(),
        date=time.strftime('%Y-%m-%d %H:%M:%S %Z'),
        load_average_start=load_average(),
    )
    if config.device.startswith('cuda'):
        env['gpu'] = torch.cuda.get_device_name(torch.device(config.device))
        env['cuda'] = torch.version.cuda
        env['cudnn'] = torch.backends.cudnn.version()
    try:
        with open('/proc/cpuinfo') as f:
            env['cpu'] = next((line.split(':', 1)[1].strip() for line in f
                               if line.startswith('model name')),
                              platform.processor())
    except OSError:
        env['cpu'] = platform.processor()
    return env


def _rows(specs: List[ModelSpec], config: BenchmarkConfig
          ) -> Tuple[List[Row], List[ModelSpec]]:
    """One row per model and variant (variants of a model side by side),
    with unique names and the index of each row's baseline."""
    entries = with_baselines(specs)
    names = [spec.name for spec, _ in entries]
    for index, (spec, _) in enumerate(entries):
        if names.count(spec.name) > 1:  # names identify models: unique
            spec.name = f'{spec.name} #{names[:index + 1].count(spec.name)}'
    variants = config.variants()
    rows, row_specs = [], []
    for spec, added in entries:
        for variant in variants:
            rows.append(Row(spec.name, spec.kind, variant,
                            config.size_of(spec), config.batch_of(spec),
                            added_as_baseline=added))
            row_specs.append(spec)
    for row, spec in zip(rows, row_specs):
        base = baseline_of(spec)
        if base is None:
            continue
        row.baseline = next(
            i for i, (other, s) in enumerate(zip(rows, row_specs))
            if same_model(base, s) and other.variant == row.variant)
    return rows, row_specs


def run_benchmark(specs: List[ModelSpec],
                  config: BenchmarkConfig,
                  log: Optional[Callable[[str], None]] = None
                  ) -> BenchmarkResult:
    """Measure ``specs`` (plus their missing baselines) with ``config``."""
    log = log or (lambda message: print(message, file=sys.stderr,
                                        flush=True))
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        if config.device.startswith('cuda'):
            torch.backends.cudnn.benchmark = True
        env = environment(config)
        log(f'load average at the start: {env["load_average_start"]}')
        rows, row_specs = _rows(specs, config)
        subjects: Dict[int, Subject] = {}
        for index, (row, spec) in enumerate(zip(rows, row_specs)):
            try:
                subjects[index] = Subject(spec, row.variant, config)
            except Exception:  # noqa: BLE001  (reported in the table)
                row.error = traceback.format_exc()
                log(f'{row.name} ({row.variant.label}): failed to build\n'
                    f'{row.error}')
                continue
            row.params = subjects[index].params
            log(f'built {row.name} ({row.variant.label}, '
                f'{row.params / 1e6:.2f} M params)')
        for mode in config.modes:
            _time_mode(mode, rows, subjects, config, log)
            if config.memory:
                _measure_memory(mode, rows, row_specs, subjects, config, log)
        env['load_average_end'] = load_average()
        log(f'load average at the end: {env["load_average_end"]}')
    finally:
        torch.set_num_threads(threads)
    return BenchmarkResult(config, rows, env)


def _time_mode(mode: str, rows: List[Row], subjects: Dict[int, Subject],
               config: BenchmarkConfig, log: Callable[[str], None]) -> None:
    label = MODE_LABELS[mode]

    def active() -> List[int]:
        return [i for i in subjects
                if rows[i].error is None and mode not in rows[i].skipped]

    def skip_if_slow(index: int, seconds: float) -> None:
        limit = config.skip_slower_than
        if limit is not None and seconds > limit:
            rows[index].skipped[mode] = (
                f'one iteration took {seconds:.1f} s > {limit:g} s')
            log(f'{rows[index].name}: {label} skipped '
                f'({rows[index].skipped[mode]})')

    def failed(index: int) -> None:
        rows[index].error = f'{label}: {traceback.format_exc()}'
        log(f'{rows[index].name} ({rows[index].variant.label}): {label} '
            f'failed\n{rows[index].error}')

    timers = {}
    for index in active():
        subject, row = subjects[index], rows[index]
        subject.begin(mode)
        row.times[mode] = [None] * config.rounds
        timers[index] = benchmark.Timer(
            stmt='step(mode)',
            globals=dict(step=subject.step, mode=mode),
            num_threads=torch.get_num_threads(),
            label=label,
            sub_label=row.name,
            description=row.variant.label)
        try:
            for _ in range(config.warmup):
                seconds = subject.timed_step(mode)
                log(f'{label} warm-up {row.name} ({row.variant.label}): '
                    f'{seconds:.3f} s')
            if config.warmup:
                skip_if_slow(index, seconds)
        except Exception:  # noqa: BLE001  (reported in the table)
            failed(index)
    for round_index in range(config.rounds):
        order = active()
        shift = round_index % max(len(order), 1)
        for index in order[shift:] + order[:shift]:
            try:
                measurement = timers[index].blocked_autorange(
                    min_run_time=config.min_run_time)
            except Exception:  # noqa: BLE001  (reported in the table)
                failed(index)
                continue
            rows[index].times[mode][round_index] = measurement.median
            log(f'{label} round {round_index + 1}/{config.rounds} '
                f'{rows[index].name} ({rows[index].variant.label}): '
                f'{measurement.median:.4f} s/iteration')
            if round_index == 0 and not config.warmup:
                skip_if_slow(index, measurement.median)


def _measure_memory(mode: str, rows: List[Row], row_specs: List[ModelSpec],
                    subjects: Dict[int, Subject], config: BenchmarkConfig,
                    log: Callable[[str], None]) -> None:
    for index, (row, spec) in enumerate(zip(rows, row_specs)):
        if row.error is not None or mode in row.skipped or \
                index not in subjects:
            continue
        try:
            if config.device.startswith('cuda'):
                peak = subjects[index].peak_memory(mode)
            else:
                peak = peak_memory_in_subprocess(spec, row.variant, mode,
                                                 config)
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            row.error = f'{MODE_LABELS[mode]} memory: {exc}'
            log(f'{row.name}: {row.error}')
            continue
        row.peak_memory[mode] = peak
        log(f'{MODE_LABELS[mode]} peak memory {row.name} '
            f'({row.variant.label}): '
            f'{"-" if peak is None else f"{peak / 2**20:.0f} MB"}')


def _fmt(value: Optional[float], pattern: str) -> str:
    return '-' if value is None else pattern.format(value)


def markdown(result: BenchmarkResult) -> str:
    """The results as a markdown table, with the conditions above it."""
    config, env = result.config, result.environment
    where = env.get('gpu') or env.get('cpu', '')
    lines = [
        f'Device: {config.device} ({where}), {env["torch_threads"]} torch '
        f'threads of {env["cpu_count"]} CPUs, torch {env["torch"]}, Python '
        f'{env["python"]}. {config.rounds} rounds, models interleaved and '
        f'their order rotated every round; per model and round '
        f'torch.utils.benchmark blocked_autorange (≥ {config.min_run_time:g} '
        f's after one untimed call), after {config.warmup} warm-up '
        f'iteration(s). Load average (1, 5, 15 min) '
        f'{env.get("load_average_start")} at the start, '
        f'{env.get("load_average_end")} at the end; {env["date"]}.',
        '',
    ]
    variants = len(config.variants()) > 1
    header = ['model'] + (['variant'] if variants else []) + ['input']
    header.append('params (M)')
    align = ['---'] * (len(header) - 1) + ['---:']
    for mode in config.modes:
        label = MODE_LABELS[mode]
        header += [f'{label} ms', f'{label} img/s', f'{label} vs ResNet',
                   f'{label} spread'] + (
                       [f'{label} peak MB'] if config.memory else [])
    align += ['---:'] * (len(header) - len(align))
    lines.append('| ' + ' | '.join(header) + ' |')
    lines.append('|' + '|'.join(align) + '|')
    per_mode = 5 if config.memory else 4
    for row in result.rows:
        name = row.name + (' (baseline)' if row.added_as_baseline else '')
        cells = [f'`{name}`'] + ([row.variant.label] if variants else []) + [
            f'{row.batch_size}×{row.input_size[0]}×{row.input_size[1]}',
            _fmt(row.params and row.params / 1e6, '{:.2f}')]
        for mode in config.modes:
            median = row.median(mode)
            if median is None:
                status = 'skipped' if mode in row.skipped else 'failed'
                cells += [status] + ['-'] * (per_mode - 1)
                continue
            spread = row.spread(mode)
            cells += [
                f'{median * 1e3:.1f}', f'{row.throughput(mode):.2f}',
                _fmt(result.ratio(row, mode), '{:.2f}×'),
                _fmt(spread and spread * 100, '{:.0f}%')]
            if config.memory:
                peak = row.peak_memory.get(mode)
                cells.append(_fmt(peak and peak / 2**20, '{:.0f}'))
        lines.append('| ' + ' | '.join(cells) + ' |')
    memory = ('growth of the peak GPU memory allocated over the memory held '
              'before the iteration'
              if config.device.startswith('cuda') else
              'growth of the peak resident set size of a fresh process per '
              'model and mode over its size before the iteration')
    lines += [
        '',
        'ms: median over rounds of the time per iteration (batch as in '
        '"input"); img/s: batch / that median; vs ResNet: median over rounds '
        'of the time over that of the plain ResNet of the same depth (same '
        'variant) in the same round, >1 = slower; spread: interquartile '
        f'range over rounds / median; peak MB: {memory} (activations, '
        'gradients and workspace; weights excluded).'
    ]
    notes = [f'{row.name}: {reason}' for row in result.rows
             for reason in row.skipped.values()]
    notes += [f'{row.name}: failed ({row.error.strip().splitlines()[-1]})'
              for row in result.rows if row.error]
    if notes:
        lines.append('Not measured: ' + '; '.join(notes) + '.')
    return '\n'.join(lines)
