"""Where the repository's own files are: its configs and the command-line tools that the runners
start as processes (mmdet_eql is installed in place, ``pip install -e .``, so the package sits in
the repository root)."""
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def repo_path(*parts: str) -> str:
    """The absolute path of ``parts`` under the repository root."""
    return osp.join(REPO_ROOT, *parts)
