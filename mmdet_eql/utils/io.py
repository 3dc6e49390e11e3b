"""File helpers shared by the tools: JSON with a progress bar and clear errors."""
import functools
import hashlib
import json
import os
import os.path as osp
import sys


class ToolError(Exception):
    """An error a command-line tool reports as one line (no traceback) with a non-zero exit."""


def tool_main(main):
    """Wraps a tool's ``main``: a ToolError becomes ``error: ...`` on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except ToolError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2

    return wrapper


def load_json(path: str, what: str = 'file', progress: bool = True):
    """Loads a JSON file, reading it in chunks under a progress bar (orjson when installed).

    Raises:
        ToolError: the file is missing, unreadable, empty or not JSON.
    """
    if not osp.isfile(path):
        raise ToolError(f'{what} {path!r} does not exist')
    size = osp.getsize(path)
    if size == 0:
        raise ToolError(f'{what} {path!r} is empty')
    chunks = []
    try:
        with open(path, 'rb') as f:
            bar = None
            if progress and size > 32 << 20:
                from tqdm import tqdm
                bar = tqdm(
                    total=size, unit='B', unit_scale=True, desc=f'reading {osp.basename(path)}')
            while True:
                chunk = f.read(16 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
    except OSError as e:
        raise ToolError(f'{what} {path!r} cannot be read: {e.strerror}') from None
    data = b''.join(chunks)
    try:
        try:
            import orjson
            return orjson.loads(data)
        except ImportError:
            return json.loads(data)
    except ValueError as e:
        raise ToolError(f'{what} {path!r} is not valid JSON: {e}') from None


def write_json(obj, path: str, what: str = 'output file') -> None:
    """Writes JSON, creating the parent directory; unwritable paths raise ToolError."""
    parent = osp.dirname(osp.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        with open(path, 'w') as f:
            json.dump(obj, f, indent=1)
            f.write('\n')
    except OSError as e:
        raise ToolError(f'cannot write {what} {path!r}: {e.strerror}') from None


def sha256_files(*paths: str) -> str:
    """sha256 of the files' bytes one after the other (a single file: its own sha256), read in
    blocks so that a large file is never held in memory whole."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
    return h.hexdigest()
