"""A test-only hook (imported by the distributed tests' configs): every rank writes its EQLv2
gradient statistics at the end of training, so the test can compare the ranks; and, when the
gradient-ratio monitor runs, this rank's own parts of it (before the monitor sums them over the
ranks), so the test can check the monitor's report against the sum of the ranks."""
import os.path as osp

import torch
import torch.distributed as dist
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class DumpGradStatsHook(Hook):

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        stats = model.roi_head.bbox_head.loss_cls.grad_stats
        rank = dist.get_rank() if dist.is_initialized() else 0
        world = dist.get_world_size() if dist.is_initialized() else 1
        monitor = next((h for h in runner.hooks if type(h).__name__ == 'GradientRatioMonitorHook'),
                       None)
        local = {} if monitor is None else {
            name: dict(pos=acc.pos.cpu(), neg_bg=acc.neg_bg.cpu(), neg_fg=acc.neg_fg.cpu())
            for name, acc in monitor.accumulators.items()
        }
        torch.save(
            dict(
                state=stats.state_dict(),
                monitor=local,
                world_size=world,
                backend=dist.get_backend() if dist.is_initialized() else None),
            osp.join(runner.work_dir, f'grad_stats_rank{rank}.pth'))
