"""The results store of a benchmark suite: one SQLite file.

Every run (one model trained and tested with one seed) is a row of
``runs``; its test metrics are rows of ``metrics``. The file is written as
the suite goes, so an interrupted suite knows what it finished, and it can
be queried later with any SQLite client::

    sqlite3 work_dirs/suite/results.sqlite \\
      "SELECT model, COUNT(*), AVG(value) FROM runs JOIN metrics
       ON metrics.run_id = runs.id
       WHERE status = 'done' AND name = 'coco/bbox_mAP' GROUP BY model"
"""
import json
import sqlite3
import time
from typing import Any, Dict, Iterator, List, Optional

#: A run's states: ``running`` (started, not finished: resumed next time),
#: ``done`` (metrics recorded: skipped next time), ``failed`` (error
#: recorded: tried again next time).
STATUSES = ('running', 'done', 'failed')

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,            -- leaderboard row (config or cell name)
    seed INTEGER NOT NULL,
    baseline TEXT,                  -- the model this one is compared with
    config TEXT NOT NULL,           -- the source config file
    status TEXT NOT NULL,
    work_dir TEXT NOT NULL,
    resolved_config TEXT,           -- the config file the run trained with
    options TEXT,                   -- JSON: what the suite set
    commands TEXT,                  -- JSON: the train and test commands
    git_commit TEXT,
    git_dirty INTEGER,
    environment TEXT,               -- JSON: versions, device, host
    params INTEGER,                 -- all parameters
    trainable_params INTEGER,       -- without frozen ones
    gflops REAL,                    -- conv + fc GMACs (papers' GFLOPs)
    gmacs_total REAL,               -- all multiply-accumulates
    flops_input TEXT,               -- JSON: input shape of the count
    train_iter_per_s REAL,
    latency_ms REAL,                -- test forward per image (batch 1)
    train_seconds REAL,             -- training time of the attempt that
                                    -- finished the training
    test_seconds REAL,
    metrics_file TEXT,              -- the test's own metric file
    error TEXT,
    started REAL,
    finished REAL,
    UNIQUE (model, seed)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""
#: Columns holding JSON.
_JSON_COLUMNS = ('options', 'commands', 'environment', 'flops_input')


class ResultStore:
    """Read and write a suite's ``results.sqlite``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.row_factory = sqlite3.Row
        self._db.execute('PRAGMA foreign_keys = ON')
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> 'ResultStore':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _row(self, row: sqlite3.Row) -> Dict[str, Any]:
        data = dict(row)
        for column in _JSON_COLUMNS:
            if data.get(column) is not None:
                data[column] = json.loads(data[column])
        return data

    def get(self, model: str, seed: int) -> Optional[Dict[str, Any]]:
        """The run of ``model`` with ``seed``, with its ``metrics`` dict,
        or None."""
        row = self._db.execute(
            'SELECT * FROM runs WHERE model = ? AND seed = ?',
            (model, seed)).fetchone()
        if row is None:
            return None
        data = self._row(row)
        data['metrics'] = self.metrics(data['id'])
        return data

    def metrics(self, run_id: int) -> Dict[str, float]:
        return {
            row['name']: row['value']
            for row in self._db.execute(
                'SELECT name, value FROM metrics WHERE run_id = ? '
                'ORDER BY name', (run_id, ))
        }

    def start(self, model: str, seed: int, **fields: Any) -> int:
        """Mark the run ``running`` (creating it if new) with ``fields``;
        returns its id."""
        existing = self.get(model, seed)
        fields = dict(fields, status='running', error=None,
                      started=time.time(), finished=None)
        if existing is None:
            fields.update(model=model, seed=seed)
            columns = ', '.join(fields)
            marks = ', '.join('?' for _ in fields)
            with self._db:
                cursor = self._db.execute(
                    f'INSERT INTO runs ({columns}) VALUES ({marks})',
                    [self._value(k, v) for k, v in fields.items()])
            return cursor.lastrowid
        self.update(existing['id'], **fields)
        return existing['id']

    @staticmethod
    def _value(column: str, value: Any) -> Any:
        return json.dumps(value) if column in _JSON_COLUMNS and \
            value is not None else value

    def update(self, run_id: int, **fields: Any) -> None:
        if 'status' in fields and fields['status'] not in STATUSES:
            raise ValueError(f'status must be one of {STATUSES}, got '
                             f'{fields["status"]!r}')
        assignments = ', '.join(f'{column} = ?' for column in fields)
        with self._db:
            self._db.execute(
                f'UPDATE runs SET {assignments} WHERE id = ?',
                [self._value(k, v) for k, v in fields.items()] + [run_id])

    def finish(self, run_id: int, metrics: Dict[str, float],
               **fields: Any) -> None:
        """Record the run's metrics and mark it ``done``."""
        with self._db:
            self._db.execute('DELETE FROM metrics WHERE run_id = ?',
                             (run_id, ))
            self._db.executemany(
                'INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)',
                [(run_id, name, float(value))
                 for name, value in metrics.items()])
        self.update(run_id, status='done', finished=time.time(), **fields)

    def fail(self, run_id: int, error: str) -> None:
        self.update(run_id, status='failed', error=error,
                    finished=time.time())

    def runs(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every run (or those with ``status``), each with its
        ``metrics``, in the order they were first started."""
        query = 'SELECT * FROM runs'
        arguments: tuple = ()
        if status is not None:
            query += ' WHERE status = ?'
            arguments = (status, )
        rows = [self._row(row) for row in self._db.execute(
            query + ' ORDER BY id', arguments)]
        for row in rows:
            row['metrics'] = self.metrics(row['id'])
        return rows

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.runs())
