"""The benchmark suite: train and test models × seeds through the
repository's tools, record every run in one SQLite store, and write a
leaderboard with confidence intervals (``tools/benchmark_suite.py``)."""
from .launch import LAUNCHERS, Command, Launcher
from .plan import Model, Suite, SuiteError, load_suite
from .report import leaderboard_rows, write_leaderboard
from .runner import BenchmarkRunner
from .stats import Summary, paired_difference, summarize
from .store import ResultStore

__all__ = ['LAUNCHERS', 'Command', 'Launcher', 'Model', 'Suite',
           'SuiteError', 'load_suite', 'leaderboard_rows',
           'write_leaderboard', 'BenchmarkRunner', 'Summary',
           'paired_difference', 'summarize', 'ResultStore']
