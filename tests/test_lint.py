"""The lint configuration of setup.cfg (flake8 + isort + yapf, as mmdet) holds on the project."""
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATHS = ['mmdet_eql', 'tools', 'tests', 'configs']


@pytest.mark.parametrize(
    'cmd',
    [
        ['flake8'],
        ['isort', '--check-only', '--diff'],
        # --parallel: one process a core (a third of the suite's lint time on 2 cores)
        ['yapf', '--diff', '--recursive', '--parallel'],
    ],
    ids=lambda c: c[0])
def test_lint(cmd):
    res = subprocess.run([sys.executable, '-m', *cmd, *PATHS],
                         cwd=ROOT,
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def _python_files(folder: str) -> list:
    import glob
    return sorted(glob.glob(osp.join(ROOT, folder, '**', '*.py'), recursive=True))


def layout_violations(root: str = ROOT) -> list:
    """What breaks the layout's rules (docs/contributing.md): a script under tools/ over 250
    lines, one that edits sys.path or imports another script (a module of tools/ or a name that
    only tools/ defines), a package module that imports from tools/, a test that loads a script
    by its path."""
    import ast
    import glob
    out = []
    tools = sorted(glob.glob(osp.join(root, 'tools', '**', '*.py'), recursive=True))
    script_names = {osp.splitext(osp.basename(p))[0] for p in tools}
    for path in tools:
        rel = osp.relpath(path, root)
        text = open(path).read()
        if text.count('\n') > 250:
            out.append(f'{rel}: {text.count(chr(10))} lines (at most 250)')
        if 'sys.path' in text:
            out.append(f'{rel}: edits sys.path')
        for node in ast.walk(ast.parse(text)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split('.')[0] in script_names or name.startswith('tools'):
                    out.append(f'{rel}: imports the script {name}')
    for path in glob.glob(osp.join(root, 'mmdet_eql', '**', '*.py'), recursive=True):
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('tools'):
                out.append(f'{osp.relpath(path, root)}: imports {node.module}')
    for path in glob.glob(osp.join(root, 'tests', '**', '*.py'), recursive=True):
        if osp.basename(path) == 'test_lint.py':
            continue
        text = open(path).read()
        if 'spec_from_file_location' in text or "'tools'" in text and 'sys.path' in text:
            for line in text.splitlines():
                if 'spec_from_file_location' in line or ('sys.path' in line and 'tools' in line):
                    out.append(f'{osp.relpath(path, root)}: loads a script by path: {line.strip()}')
    return out


def test_tools_are_thin_command_lines_over_the_package():
    assert layout_violations() == []


def test_layout_check_sees_a_violation(tmp_path):
    """The check above can fail: a tree with a long script that edits sys.path and imports
    another script, and a package module importing from tools/."""
    (tmp_path / 'tools' / 'misc').mkdir(parents=True)
    (tmp_path / 'mmdet_eql').mkdir()
    (tmp_path / 'tests').mkdir()
    (tmp_path / 'tools' / 'misc' / 'helper.py').write_text('X = 1\n')
    (tmp_path / 'tools' / 'misc' /
     'big.py').write_text('import sys\nsys.path.insert(0, ".")\nfrom helper import X\n' +
                          '\n' * 260)
    (tmp_path / 'mmdet_eql' / 'm.py').write_text('from tools.misc import helper\n')
    found = '\n'.join(layout_violations(str(tmp_path)))
    for what in ('big.py: 263 lines', 'big.py: edits sys.path', 'big.py: imports the script helper',
                 'm.py: imports tools.misc'):
        assert what in found, found


def test_import_mmdet_eql_leaves_the_benchmark_out():
    """The registry components do not depend on the benchmark package."""
    res = subprocess.run([
        sys.executable, '-c', 'import sys, mmdet_eql; '
        'print(sorted(m for m in sys.modules if m.startswith("mmdet_eql.benchmark")))'
    ],
                         cwd=ROOT,
                         capture_output=True,
                         text=True)
    assert res.returncode == 0 and res.stdout.strip() == '[]', res.stdout + res.stderr
