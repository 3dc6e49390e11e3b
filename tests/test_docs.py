"""The docs name what exists: every repository path (configs/, tools/, mmdet_eql/, tests/, docs/),
every `make` target and every flag of a `tools/` command named in README.md, docs/ and
configs/README.md exists, so drift fails CI."""
import glob
import itertools
import os.path as osp
import re

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAGES = sorted(
    ['README.md', osp.join('configs', 'README.md')] +
    [osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'docs', '**', '*.md'), recursive=True)])
PATH = re.compile(r'(?<![\w/.<-])((?:configs|tools|mmdet_eql|tests|docs)/[\w./{},*-]*[\w*}])'
                  r'(?![\w<>])')
#: paths a page names that are not in the repository on purpose: outputs, a user's own file
NOT_FILES = re.compile(r'work_dirs|/runs/.*\.(png|json)$|my_data|my-data')
#: words just before a path that say it is another project's (mmdet's, the authors') or an old
#: name that a page explains
ELSEWHERE = re.compile(r"(mmdet's|mmdet 3\.3's|authors'|their|in the repository|[\w-]+/[\w.-]+|"
                       r'were renamed)\s*\(?`?$')


def expand(path: str) -> list:
    """``a_{x,y}_b`` -> ``a_x_b``, ``a_y_b`` (every brace group)."""
    parts = re.split(r'\{([^{}]*)\}', path)
    options = [[p] if i % 2 == 0 else p.split(',') for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*options)]


def exists(path: str) -> bool:
    full = osp.join(ROOT, path.rstrip('.'))
    return bool(glob.glob(full)) if '*' in path else osp.exists(full)


def page_paths(page: str) -> list:
    """The repository paths ``page`` names (CHANGELOG.md, the history of renames, is not read)."""
    text = open(osp.join(ROOT, page)).read()
    out = set()
    for m in PATH.finditer(text):
        before = text[max(0, m.start() - 40):m.start()].replace('\n', ' ')
        if not ELSEWHERE.search(before):
            out.add(m.group(1))
    return sorted(out)


@pytest.mark.parametrize('page', PAGES)
def test_every_path_a_page_names_exists(page):
    missing = [
        p for found in page_paths(page) for p in expand(found)
        if not NOT_FILES.search(p) and not exists(p) and '...' not in p
    ]
    assert not missing, f'{page} names what does not exist: {missing}'


def make_targets() -> set:
    text = open(osp.join(ROOT, 'Makefile')).read()
    return set(re.findall(r'^([a-z][\w-]*):', text, re.M))


@pytest.mark.parametrize('page', PAGES)
def test_every_make_target_a_page_names_exists(page):
    text = open(osp.join(ROOT, page)).read()
    named = set(re.findall(r'`make ([a-z][\w-]*)', text)) | set(
        re.findall(r'^\s*make ([a-z][\w-]*)', text, re.M))
    assert named <= make_targets(), (page, named - make_targets())


def tool_flags(tool: str) -> set:
    """The flags a tool's argument parser knows (read off its module's source)."""
    src = open(osp.join(ROOT, tool)).read()
    m = re.search(r'from (mmdet_eql[\w.]*) import main', src)
    modules = [src]
    if m:
        path = osp.join(ROOT, *m.group(1).split('.'))
        path = path + '.py' if osp.isfile(path + '.py') else osp.join(path, '__init__.py')
        modules.append(open(path).read())
        # a package-level main may take its arguments from a shared parser (mmdet_eql.apis)
        modules += [open(p).read() for p in glob.glob(osp.join(osp.dirname(path), '*.py'))]
    return set(re.findall(r"add_argument\(\s*'(--[\w-]+)'", '\n'.join(modules))) | set(
        re.findall(r"'(--[\w-]+)'", '\n'.join(modules)))


@pytest.mark.parametrize('page', PAGES)
def test_every_tool_flag_a_page_names_exists(page):
    """On a line that runs ``python tools/X.py``, each ``--flag`` is one X knows."""
    bad = []
    for line in open(osp.join(ROOT, page)):
        m = re.search(r'python (tools/[\w/]+\.py)(.*)', line)
        if not m or not osp.isfile(osp.join(ROOT, m.group(1))):
            continue
        flags = set(re.findall(r'(?<![\w-])(--[a-z][\w-]*)', m.group(2)))
        known = tool_flags(m.group(1)) | {'--help'}
        bad += [(m.group(1), f) for f in flags - known]
    assert not bad, (page, bad)


def test_readme_names_the_work_dir_make_demo_writes():
    """The README says where ``make demo`` writes; the runner's default for the Makefile's regime
    (DEMO_REGIME and DEMO_METHODS parsed as the runner parses them) is that directory."""
    from mmdet_eql.benchmark.detection import parse_args
    make = open(osp.join(ROOT, 'Makefile')).read()
    argv = [
        *re.search(r'^DEMO_REGIME := (.*)$', make, re.M).group(1).split(), '--methods',
        *re.search(r'^DEMO_METHODS := (.*)$', make, re.M).group(1).split()
    ]
    work_dir = parse_args(argv).work_dir
    readme = open(osp.join(ROOT, 'README.md')).read()
    said = re.search(r'`make demo` generates.*?writes tables and plots to `([^`]+)`', readme,
                     re.S).group(1)
    assert said.rstrip('/') == work_dir, (said, work_dir)
