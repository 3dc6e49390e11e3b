"""Time tools/analysis_tools/class_frequency.py on a generated file the size of LVIS v1 train.

    python tools/speed/class_frequency.py [--images 100170] [--anns 1270141]

Writes an LVIS-format annotation file (1203 categories drawn with LVIS v1's train image-count
distribution, 8-point polygons, bboxes) to a temporary directory, runs the tool on it as a user
would (a subprocess), checks the counts against the generator's, and prints the wall time.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

import numpy as np

from mmdet_eql.utils.class_frequency import DATA_DIR
from mmdet_eql.utils.paths import repo_path

TOOL = repo_path('tools', 'analysis_tools', 'class_frequency.py')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', type=int, default=100170)
    parser.add_argument('--anns', type=int, default=1270141)
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    with open(osp.join(DATA_DIR, 'lvis_v1_category_stats.json')) as f:
        cats = json.load(f)
    p = np.array([c['instance_count'] for c in cats], float)
    p /= p.sum()
    img_of_ann = rng.randint(1, args.images + 1, args.anns)
    cat_of_ann = np.array([c['id'] for c in cats])[rng.choice(len(cats), args.anns, p=p)]
    with tempfile.TemporaryDirectory() as tmp:
        ann_file = osp.join(tmp, 'lvis_v1_train_like.json')
        t0 = time.perf_counter()
        with open(ann_file, 'w') as f:
            f.write('{"images":[')
            f.write(','.join(f'{{"id":{i},"height":480,"width":640,"file_name":"{i}.jpg",'
                             '"neg_category_ids":[],"not_exhaustive_category_ids":[]}'
                             for i in range(1, args.images + 1)))
            f.write('],"annotations":[')
            poly = ('[[10.5,10.5,40.2,12.1,60.3,30.2,55.1,60.7,30.2,70.4,12.3,50.1,8.2,30.3,'
                    '9.9,20.1]]')
            f.write(','.join(f'{{"id":{k + 1},"image_id":{int(i)},"category_id":{int(c)},'
                             f'"bbox":[8.2,10.5,52.1,59.9],"area":2100.5,"segmentation":{poly}}}'
                             for k, (i, c) in enumerate(zip(img_of_ann, cat_of_ann))))
            f.write('],"categories":')
            json.dump([dict(id=c['id'], name=c['name'], frequency=c['frequency']) for c in cats], f)
            f.write('}')
        size = os.path.getsize(ann_file) / 2**20
        print(f'wrote {args.images} images, {args.anns} annotations ({size:.0f} MiB) in '
              f'{time.perf_counter() - t0:.0f} s')
        out = osp.join(tmp, 'freq.json')
        t0 = time.perf_counter()
        subprocess.run([sys.executable, TOOL, ann_file, '--out', out], check=True)
        wall = time.perf_counter() - t0
        with open(out) as f:
            res = json.load(f)
        pairs = np.unique(img_of_ann.astype(np.int64) * 10000 + cat_of_ann)
        expected = np.bincount(pairs % 10000, minlength=1204)
        got = {c['id']: c['image_count'] for c in res['categories']}
        assert all(got[c['id']] == expected[c['id']] for c in cats), 'counts differ'
        assert res['num_images_with_annotations'] == len(np.unique(img_of_ann))
        print(f'class_frequency.py: {wall:.1f} s wall (subprocess, start-up included); '
              'counts verified')
    return 0


if __name__ == '__main__':
    sys.exit(main())
