"""Throughput, latency and peak memory of several models, measured alike.

Each model lives in its own worker process (forked on CPU, spawned on GPU),
built once. The coordinating process then asks the workers for one timed
iteration at a time, model after model, round after round, rotating the
order every round, so that a burst of load on a shared machine hits every
model alike and no model always runs first or last. Per model and mode:

* **latency**: median over ``repeats`` timed iterations, after ``warmup``
  untimed ones; **throughput** = batch / median latency;
* **ratio**: the model's median latency over that of the plain ResNet of
  the same depth built the same way, measured in the same run (added to
  the run if not listed);
* **peak memory**: CPU: growth of the worker's peak resident set size
  (``VmHWM``, reset through ``/proc/self/clear_refs`` at the start of each
  mode) over its size once the model was built: activations, gradients and
  workspace, without weights; GPU: ``torch.cuda.max_memory_allocated``
  during the mode, weights included.

Modes: ``forward`` (eval mode, ``torch.no_grad``) and ``train`` (train mode
— mmdet's ``norm_eval`` keeps detection backbones' BN frozen — forward, a
scalar loss and ``backward``; no optimizer step). Detectors run
``predict`` / ``loss`` on random images with random boxes (and masks).
"""
import math
import multiprocessing as mp
import os
import platform
import re
import statistics
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .models import ModelSpec, baseline_of, build, model_forward, same_model

MODES = ('forward', 'train')
MODE_LABELS = {'forward': 'fwd', 'train': 'fwd+bwd'}
DEFAULT_SIZES = {
    'classifier': (224, 224),
    'backbone': (800, 1216),
    'detector': (800, 1216)
}
DEFAULT_BATCH = {'classifier': 8, 'backbone': 1, 'detector': 1}


@dataclass
class BenchmarkConfig:
    """How to measure.

    Attributes:
        device (str): 'cpu' or 'cuda[:i]'.
        input_size (tuple, optional): (H, W); None: per kind
            (:data:`DEFAULT_SIZES`).
        batch_size (int, optional): None: per kind (:data:`DEFAULT_BATCH`).
        modes (tuple): Subset of :data:`MODES`.
        warmup (int): Untimed iterations per model and mode.
        repeats (int): Timed iterations per model and mode.
        threads (int, optional): torch CPU threads per worker.
        skip_slower_than (float, optional): Seconds; a model whose warm-up
            iteration (or first timed one) takes longer is not timed further
            in that mode.
    """
    device: str = 'cpu'
    input_size: Optional[Tuple[int, int]] = None
    batch_size: Optional[int] = None
    modes: Tuple[str, ...] = MODES
    warmup: int = 1
    repeats: int = 5
    threads: Optional[int] = None
    skip_slower_than: Optional[float] = None

    def size_of(self, spec: ModelSpec) -> Tuple[int, int]:
        return tuple(self.input_size or DEFAULT_SIZES[spec.kind])

    def batch_of(self, spec: ModelSpec) -> int:
        return self.batch_size or DEFAULT_BATCH[spec.kind]


@dataclass
class Measurement:
    """One model's results."""
    name: str
    kind: str
    input_size: Tuple[int, int]
    batch_size: int
    params: Optional[int] = None
    baseline: Optional[str] = None
    added_as_baseline: bool = False
    times: Dict[str, List[float]] = field(default_factory=dict)
    peak_memory: Dict[str, Optional[int]] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None

    def median(self, mode: str) -> Optional[float]:
        times = self.times.get(mode)
        return statistics.median(times) if times else None

    def throughput(self, mode: str) -> Optional[float]:
        median = self.median(mode)
        return self.batch_size / median if median else None

    def spread(self, mode: str) -> Optional[float]:
        """(max − min) / median of the timed iterations."""
        times = self.times.get(mode)
        if not times or len(times) < 2:
            return None
        return (max(times) - min(times)) / statistics.median(times)


@dataclass
class BenchmarkResult:
    config: BenchmarkConfig
    measurements: List[Measurement]
    environment: dict

    def by_name(self, name: str) -> Measurement:
        for measurement in self.measurements:
            if measurement.name == name:
                return measurement
        raise KeyError(name)

    def ratio(self, measurement: Measurement, mode: str) -> Optional[float]:
        """Median latency relative to the model's plain-ResNet baseline."""
        if measurement.baseline is None:
            return None
        median = measurement.median(mode)
        base = self.by_name(measurement.baseline).median(mode)
        if median is None or not base:
            return None
        return median / base

    def to_dict(self) -> dict:
        return dict(
            config=asdict(self.config),
            environment=self.environment,
            measurements=[
                dict(asdict(m),
                     median_s={k: m.median(k) for k in m.times},
                     throughput={k: m.throughput(k) for k in m.times},
                     ratio={k: self.ratio(m, k) for k in m.times})
                for m in self.measurements
            ])


# Worker side ---


def _status_kb(key: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            match = re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.MULTILINE)
        return int(match.group(1)) if match else None
    except OSError:
        return None


def _reset_peak_rss() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


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


class _Runner:
    """One model's iterations, in the worker."""

    def __init__(self, spec: ModelSpec, config: BenchmarkConfig) -> None:
        self.spec = spec
        self.device = torch.device(config.device)
        self.cuda = self.device.type == 'cuda'
        torch.manual_seed(0)
        self.model = build(spec, self.device)
        size = config.size_of(spec)
        self.inputs = torch.randn(config.batch_of(spec), 3, *size,
                                  device=self.device)
        self.samples = None
        if spec.kind == 'detector':
            self.samples = detection_samples(self.model,
                                             config.batch_of(spec), size,
                                             self.device)
        self.params = sum(p.numel() for p in self.model.parameters())
        self._prime()
        self.base_rss = _status_kb('VmRSS')
        self.can_reset = _reset_peak_rss()

    def _prime(self) -> None:
        """One small forward pass, so that the runtime's one-time
        allocations (thread pools, kernels) are not counted as the model's
        peak memory."""
        if self.spec.kind == 'detector':
            return
        try:
            with torch.no_grad():
                model_forward(self.spec, self.model,
                              torch.randn(1, 3, 64, 64, device=self.device))
        except Exception:  # noqa: BLE001  (priming is best effort)
            pass

    def begin(self, mode: str) -> None:
        self.model.train(mode == 'train')
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.can_reset = _reset_peak_rss()

    def peak_memory(self) -> Optional[int]:
        if self.cuda:
            return torch.cuda.max_memory_allocated(self.device)
        peak = _status_kb('VmHWM')
        if peak is None or self.base_rss is None or not self.can_reset:
            return None
        return max(0, peak - self.base_rss) * 1024

    def _forward(self):
        if self.spec.kind == 'detector':
            return self.model.predict(self.inputs, self.samples,
                                      rescale=False)
        return model_forward(self.spec, self.model, self.inputs)

    def step(self, mode: str) -> float:
        if self.cuda:
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        if mode == 'forward':
            with torch.no_grad():
                self._forward()
        else:
            self.model.zero_grad(set_to_none=True)
            if self.spec.kind == 'detector':
                losses = self.model.loss(self.inputs, self.samples)
                loss, _ = self.model.parse_losses(losses)
            else:
                loss = scalar_loss(self._forward())
            loss.backward()
        if self.cuda:
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start


def _worker(conn, spec: ModelSpec, config: BenchmarkConfig) -> None:
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        if config.device.startswith('cuda'):
            torch.backends.cudnn.benchmark = True
        import mmattn  # noqa: F401  (registers the modules when spawned)
        runner = _Runner(spec, config)
        conn.send(('ready', runner.params))
        while True:
            command, mode = conn.recv()
            if command == 'stop':
                break
            if command == 'begin':
                runner.begin(mode)
                conn.send(('ok', None))
            elif command == 'step':
                conn.send(('time', runner.step(mode)))
            elif command == 'end':
                conn.send(('memory', runner.peak_memory()))
    except Exception:  # noqa: BLE001  (reported to the coordinator)
        try:
            conn.send(('error', traceback.format_exc()))
        except OSError:
            pass
    finally:
        conn.close()


# Coordinator side ---


class _Worker:

    def __init__(self, context, spec: ModelSpec,
                 config: BenchmarkConfig) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker, args=(child, spec, config), daemon=True)
        self.process.start()
        child.close()

    def call(self, command: str, mode: Optional[str] = None):
        try:
            self.conn.send((command, mode))
        except OSError:
            raise RuntimeError(f'worker gone (exit code '
                               f'{self.process.exitcode})') from None
        return self.receive()

    def receive(self):
        try:
            kind, value = self.conn.recv()
        except EOFError:
            code = self.process.exitcode
            raise RuntimeError(
                f'worker died (exit code {code}; out of memory?)') from None
        if kind == 'error':
            raise RuntimeError(value)
        return value

    def stop(self) -> None:
        try:
            self.conn.send(('stop', None))
        except OSError:
            pass
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def with_baselines(specs: List[ModelSpec]) -> List[Tuple[ModelSpec, bool]]:
    """``specs`` followed by the plain-ResNet baselines they lack, each as
    (spec, added)."""
    listed = list(specs)
    added = []
    for spec in specs:
        base = baseline_of(spec)
        if base is None:
            continue
        if not any(same_model(base, s) for s in listed + added):
            added.append(base)
    return [(s, False) for s in listed] + [(s, True) for s in added]


def environment(config: BenchmarkConfig) -> dict:
    env = dict(
        torch=torch.__version__,
        python=platform.python_version(),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        torch_threads=config.threads or torch.get_num_threads(),
        date=time.strftime('%Y-%m-%d %H:%M:%S'),
    )
    if hasattr(os, 'getloadavg'):
        env['load_average_start'] = [round(v, 2) for v in os.getloadavg()]
    if config.device.startswith('cuda') and torch.cuda.is_available():
        env['gpu'] = torch.cuda.get_device_name(torch.device(config.device))
    else:
        try:
            with open('/proc/cpuinfo') as f:
                model = re.search(r'model name\s*:\s*(.*)', f.read())
            env['cpu'] = model.group(1) if model else platform.processor()
        except OSError:
            env['cpu'] = platform.processor()
    return env


def run_benchmark(specs: List[ModelSpec],
                  config: BenchmarkConfig,
                  log: Optional[Callable[[str], None]] = None
                  ) -> BenchmarkResult:
    """Measure ``specs`` (plus their missing baselines) with ``config``."""
    log = log or (lambda message: print(message, file=sys.stderr,
                                        flush=True))
    for mode in config.modes:
        if mode not in MODES:
            raise ValueError(f'mode {mode!r} is not one of {MODES}')
    env = environment(config)
    entries = with_baselines(specs)
    names = [spec.name for spec, _ in entries]
    for index, (spec, _) in enumerate(entries):
        if names.count(spec.name) > 1:  # labels identify rows: unique
            spec.name = f'{spec.name} #{names[:index + 1].count(spec.name)}'
    measurements = []
    for spec, added in entries:
        base = baseline_of(spec)
        base_name = None
        if base is not None:
            base_name = next(s.name for s, _ in entries if same_model(base, s))
        measurements.append(
            Measurement(spec.name, spec.kind, config.size_of(spec),
                        config.batch_of(spec), baseline=base_name,
                        added_as_baseline=added))
    if config.device.startswith('cuda'):
        context = mp.get_context('spawn')
    else:
        methods = mp.get_all_start_methods()
        context = mp.get_context('fork' if 'fork' in methods else 'spawn')
    workers: Dict[str, _Worker] = {}
    try:
        for (spec, _), measurement in zip(entries, measurements):
            workers[measurement.name] = _Worker(context, spec, config)
        for measurement in measurements:
            try:
                measurement.params = workers[measurement.name].receive()
                log(f'built {measurement.name} '
                    f'({measurement.params / 1e6:.2f} M params)')
            except RuntimeError as exc:
                measurement.error = str(exc)
                log(f'{measurement.name}: failed to build\n{exc}')
        for mode in config.modes:
            _run_mode(mode, measurements, workers, config, log)
    finally:
        for worker in workers.values():
            worker.stop()
    if hasattr(os, 'getloadavg'):
        env['load_average_end'] = [round(v, 2) for v in os.getloadavg()]
    return BenchmarkResult(config, measurements, env)


def _run_mode(mode: str, measurements: List[Measurement],
              workers: Dict[str, '_Worker'], config: BenchmarkConfig,
              log: Callable[[str], None]) -> None:
    label = MODE_LABELS[mode]

    def active():
        return [m for m in measurements
                if m.error is None and mode not in m.skipped]

    def guarded(measurement, command):
        try:
            return workers[measurement.name].call(command, mode)
        except RuntimeError as exc:
            measurement.error = f'{label}: {exc}'
            log(f'{measurement.name}: {label} failed\n{exc}')
            return None

    def too_slow(measurement, seconds):
        limit = config.skip_slower_than
        if limit is not None and seconds > limit:
            measurement.skipped[mode] = (
                f'one iteration took {seconds:.1f} s > {limit:g} s')
            log(f'{measurement.name}: {label} skipped '
                f'({measurement.skipped[mode]})')
            return True
        return False

    for measurement in active():
        measurement.times[mode] = []
        guarded(measurement, 'begin')
    for index in range(config.warmup):
        for measurement in active():
            seconds = guarded(measurement, 'step')
            if seconds is not None:
                log(f'{label} warm-up {index + 1} {measurement.name}: '
                    f'{seconds:.3f} s')
                too_slow(measurement, seconds)
    for repeat in range(config.repeats):
        order = active()
        if order:
            shift = repeat % len(order)
            order = order[shift:] + order[:shift]
        for measurement in order:
            seconds = guarded(measurement, 'step')
            if seconds is None:
                continue
            measurement.times[mode].append(seconds)
            log(f'{label} round {repeat + 1}/{config.repeats} '
                f'{measurement.name}: {seconds:.3f} s')
            if repeat == 0 and config.warmup == 0:
                too_slow(measurement, seconds)
    for measurement in measurements:
        if measurement.error is None and mode in measurement.times:
            measurement.peak_memory[mode] = guarded(measurement, 'end')


# Output ---


def _fmt(value: Optional[float], pattern: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return pattern.format(value)


def markdown(result: BenchmarkResult) -> str:
    """The results as a markdown table, with the conditions above it."""
    config, env = result.config, result.environment
    memory = ('peak GPU memory allocated (MB, weights included)'
              if config.device.startswith('cuda') else
              'peak RSS growth over the built model (MB)')
    where = env.get('gpu') or env.get('cpu', '')
    lines = [
        f'Device: {config.device} ({where}), {env["torch_threads"]} torch '
        f'threads, torch {env["torch"]}; {config.warmup} warm-up + '
        f'{config.repeats} timed iterations per model and mode, models '
        f'interleaved and rotated every round; median latency. '
        f'Load average {env.get("load_average_start")} at the start, '
        f'{env.get("load_average_end")} at the end ({env["date"]}).',
        '',
    ]
    header = ['model', 'input', 'params (M)']
    align = ['---', '---', '---:']
    for mode in config.modes:
        label = MODE_LABELS[mode]
        header += [f'{label} ms', f'{label} img/s', f'{label} time vs ResNet',
                   f'{label} spread', f'{label} mem']
        align += ['---:'] * 5
    lines.append('| ' + ' | '.join(header) + ' |')
    lines.append('|' + '|'.join(align) + '|')
    for m in result.measurements:
        name = m.name + (' (baseline)' if m.added_as_baseline else '')
        row = [f'`{name}`', f'{m.batch_size}×{m.input_size[0]}×'
               f'{m.input_size[1]}', _fmt(m.params and m.params / 1e6,
                                          '{:.2f}')]
        for mode in config.modes:
            if m.error is not None and not m.times.get(mode):
                row += ['failed'] + ['-'] * 4
                continue
            if mode in m.skipped and not m.times.get(mode):
                row += ['skipped'] + ['-'] * 4
                continue
            median = m.median(mode)
            peak = m.peak_memory.get(mode)
            ratio = result.ratio(m, mode)
            row += [
                _fmt(median and median * 1e3, '{:.0f}'),
                _fmt(m.throughput(mode), '{:.2f}'),
                _fmt(ratio, '{:.2f}×'),
                _fmt(m.spread(mode) and m.spread(mode) * 100, '{:.0f}%'),
                _fmt(peak and peak / 2**20, '{:.0f}'),
            ]
        lines.append('| ' + ' | '.join(row) + ' |')
    lines.append('')
    lines.append(
        f'ms: median latency of one iteration (batch as in "input"); '
        f'img/s: batch / median; time vs ResNet: median latency over that '
        f'of the plain ResNet of the same depth in this run (>1 = slower); '
        f'spread: (max − min) / median of the timed iterations; mem: '
        f'{memory}.')
    notes = [f'{m.name}: {reason}' for m in result.measurements
             for reason in m.skipped.values()]
    notes += [f'{m.name}: failed ({m.error.strip().splitlines()[-1]})'
              for m in result.measurements if m.error]
    if notes:
        lines.append('Not measured: ' + '; '.join(notes) + '.')
    return '\n'.join(lines)
