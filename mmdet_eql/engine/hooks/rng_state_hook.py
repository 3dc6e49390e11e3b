"""Saves the random-number state in checkpoints, so a resumed run continues the same sequence."""
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Puts torch's CPU (and CUDA) generator state into every checkpoint and restores it on
    resume, right before the first resumed iteration.

    mmengine restores the weights, optimiser, schedulers, iteration and the data order (the
    iteration-based loop replays the sampler and pipeline up to the resumed iteration), but not
    the torch generator that the RPN and RoI samplers draw from. Without it, a run resumed after
    a crash samples different RoIs than the uninterrupted run would have; with it, a
    deterministic run resumed from iteration k reaches the same weights as one never stopped.
    Only tensors are stored, which ``torch.load(weights_only=True)`` accepts.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_state')
        if self._pending is None:
            print_log(
                'RNGStateHook: the checkpoint has no random-number state (saved without '
                'this hook); the resumed run will sample differently',
                logger='current')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            cuda = state['cuda']
            if len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda)
