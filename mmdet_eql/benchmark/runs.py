"""Runs of the benchmark's runners (detection and classification alike): their records, their
launch as processes, and a progress bar over several at a time.

A run lives in its own work dir with ``run.json``: its *definition* (what determines its result:
config, data fingerprint, seed, overrides, the resolved config's digest) and its status. A finished
run of the same definition is reused, a work dir holding a run of another definition is refused
(:func:`check_record`), so a table never mixes runs of different settings.
"""
import os
import os.path as osp
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Hashable, Iterable, List, Optional, Tuple

from mmdet_eql.utils import load_json, write_json
from mmdet_eql.utils.run_config import definition_differences

#: a refusal's words for the run definition's values that say nothing when printed
DEFINITION_WORDS = dict(data='the annotation files')
#: the files that show a run finished (its evaluation, or the detections it is evaluated from)
FINISHED_FILES = ('eval.json', 'dets.bbox.json')


def run_dir(work_dir: str, method: str, seed: int) -> str:
    """The work dir of one (method, seed) run."""
    return osp.join(work_dir, f'{method}_seed{seed}')


def check_record(wd: str,
                 definition: dict,
                 retrain: bool,
                 finished_files: Iterable[str] = FINISHED_FILES) -> bool:
    """True when ``wd`` holds a finished run of exactly ``definition``; refuses (SystemExit) a
    work dir that holds a run of another definition, or one without a record, unless
    ``retrain``."""
    record = osp.join(wd, 'run.json')
    finished = any(osp.isfile(osp.join(wd, name)) for name in finished_files)
    if osp.isfile(record):
        old = load_json(record, progress=False)
        if old.get('definition') == definition:
            return finished and old.get('status') == 'finished' and not retrain
        if not retrain:
            differs = definition_differences(
                old.get('definition', {}), definition, DEFINITION_WORDS)
            raise SystemExit(f'error: {wd} holds a run of another definition (differs in: '
                             f'{differs}); pass --retrain to train it again there, or another '
                             '--work-dir')
    elif (finished or osp.isfile(osp.join(wd, 'last_checkpoint'))) and not retrain:
        raise SystemExit(f'error: {wd} holds a run without a record of its definition (made by an '
                         'older version of the runner): pass --retrain or another --work-dir')
    return False


def write_record(wd: str, definition: dict, status: str) -> None:
    """``wd/run.json``: the run's definition and status (``training`` or ``finished``)."""
    write_json(dict(definition=definition, status=status), osp.join(wd, 'run.json'))


def launch(cmd: List[str],
           log: Optional[str] = None,
           threads: Optional[int] = None,
           env: Optional[dict] = None,
           cwd: Optional[str] = None) -> None:
    """Runs a child process (``env`` added to this process's environment); with ``log``, its
    output is appended to that file (parallel runs) and a failure names it; ``threads`` sets
    OMP_NUM_THREADS and MKL_NUM_THREADS (two trainings on two cores run ~10x slower each without
    it)."""
    full_env = dict(os.environ, **(env or {}))
    if threads:
        full_env['OMP_NUM_THREADS'] = full_env['MKL_NUM_THREADS'] = str(threads)
    if log is None:
        subprocess.run(cmd, check=True, env=full_env, cwd=cwd)
        return
    with open(log, 'a') as f:
        try:
            subprocess.run(
                cmd, check=True, env=full_env, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f'{" ".join(cmd[1:3])} failed (exit {e.returncode}); see {log}')


def say(message: str) -> None:
    """Prints a line of the runner's, above the parallel runs' progress bar while there is one
    (tqdm.write clears and redraws every open bar; without one it only prints)."""
    from tqdm import tqdm
    tqdm.write(message)
    sys.stdout.flush()


#: mmengine's training log lines: ``Iter(train) [ 350/900]`` and ``Epoch(train)  [3][ 10/40]``
ITER_LINE = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\]')
EPOCH_LINE = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\s*\[\s*(\d+)/(\d+)\]')


def logged_iterations(log: str, offset: int = 0) -> float:
    """How far the training that writes ``log`` has got after byte ``offset`` (read from its last
    64 KiB): the last iteration of an iteration-based run (``Iter(train) [n/N]``), or the epochs
    done of an epoch-based one (epoch - 1 + n / N of its last ``Epoch(train) [e][n/N]`` line);
    0 when there is none."""
    try:
        with open(log, 'rb') as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(offset, size - 65536))
            text = f.read().decode(errors='replace')
    except OSError:
        return 0
    found = ITER_LINE.findall(text)
    if found:
        return int(found[-1][0])
    found = EPOCH_LINE.findall(text)
    if found:
        epoch, n, total = map(int, found[-1])
        return epoch - 1 + n / total
    return 0


def run_in_parallel(tasks: Dict[Hashable, Callable[[], object]],
                    jobs: int,
                    logs: Dict[Hashable, str],
                    totals: Dict[Hashable, float],
                    done_before: Iterable[Hashable] = (),
                    unit: str = 'it',
                    prefix: str = '[benchmark]',
                    name: Callable[[Hashable], str] = str,
                    every: float = 30.0) -> Tuple[dict, List[str]]:
    """Runs ``tasks`` (key -> a function that trains and tests one run), ``jobs`` at a time, in
    their order, under one progress bar over every run's training (``totals``: its iterations or
    epochs; read from each run's ``logs`` file every ``every`` seconds; the runs in
    ``done_before`` count as done). Returns {key: the task's result} for the tasks that finished
    and the errors of those that failed, each named by ``name(key)`` (a failed run does not stop
    the others)."""
    from tqdm import tqdm
    done_before = set(done_before)
    offsets = {k: osp.getsize(logs[k]) if osp.isfile(logs[k]) else 0 for k in tasks}
    results, failed = {}, []
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {k: pool.submit(fn) for k, fn in tasks.items()}

        def done() -> float:
            return sum(totals[k] if k in done_before or futures[k].done() else min(
                totals[k], logged_iterations(logs[k], offsets[k])) for k in tasks)

        def watch(bar) -> None:
            while not stop.wait(every):
                bar.update(done() - bar.n)
            bar.update(done() - bar.n)

        with tqdm(
                total=sum(totals.values()),
                initial=sum(totals[k] for k in done_before),
                desc=f'{prefix} {len(tasks) - len(done_before)} runs, {jobs} at a time',
                unit=unit,
                mininterval=0) as bar:
            watcher = threading.Thread(target=watch, args=(bar, ), daemon=True)
            watcher.start()
            try:
                for k, future in futures.items():
                    try:
                        results[k] = future.result()
                    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
                        failed.append(f'{name(k)}: {e}')
            finally:
                stop.set()
                watcher.join()
    return results, failed
