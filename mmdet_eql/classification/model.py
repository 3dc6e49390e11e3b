"""A CIFAR-style ResNet classifier on mmengine's BaseModel, its loss any registered mmdet loss."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseDataPreprocessor, BaseModel


class _Block(nn.Module):
    """He et al.'s CIFAR basic block; a stride-2 block's shortcut subsamples and zero-pads the
    channels (their option A: no parameters)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x
        if self.stride != 1 or self.pad:
            short = x[:, :, ::self.stride, ::self.stride]
            short = F.pad(short, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + short)


@MODELS.register_module()
class CifarResNet(nn.Module):
    """ResNet-(6n + 2) for 32 x 32 images (He et al. 2016, section 4.2): a 3 x 3 stem, three stages
    of n basic blocks with base, 2 base and 4 base channels (strides 1, 2, 2). depth 32: the
    ResNet-32 of the CIFAR-100-LT literature (and the EQL paper's Table 7)."""

    def __init__(self, depth: int = 32, base_channels: int = 16) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f'CifarResNet: depth must be 6n + 2 with n >= 1, got {depth}')
        n = (depth - 2) // 6
        self.stem = nn.Sequential(
            nn.Conv2d(3, base_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(base_channels),
            nn.ReLU(inplace=True))
        blocks, cin = [], base_channels
        for stage in range(3):
            cout = base_channels * 2**stage
            for b in range(n):
                blocks.append(_Block(cin, cout, 2 if (stage and not b) else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x):
        return self.blocks(self.stem(x))


@MODELS.register_module()
class LongTailClsPreprocessor(BaseDataPreprocessor):
    """Stacks the uint8 images, normalises them and, in training, pads by ``pad`` pixels, crops
    back at a random offset and flips half of them horizontally (the CIFAR augmentation), with
    torch's generator (its state goes into checkpoints with RNGStateHook)."""

    def __init__(self,
                 mean: Sequence[float] = (125.3, 123.0, 113.9),
                 std: Sequence[float] = (63.0, 62.1, 66.7),
                 pad: int = 4) -> None:
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), False)
        self.pad = pad

    def forward(self, data: dict, training: bool = False) -> dict:
        imgs = torch.stack(list(data['inputs'])).to(self.mean.device).float()
        labels = torch.stack(list(data['data_samples'])).to(self.mean.device).long()
        imgs = (imgs - self.mean) / self.std
        if training and self.pad:
            n, _, h, w = imgs.shape
            padded = F.pad(imgs, (self.pad, ) * 4)
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2, n)).tolist()
            imgs = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
            flip = torch.rand(n) < 0.5
            imgs[flip] = imgs[flip].flip(-1)
        return dict(inputs=imgs, data_samples=labels)


@MODELS.register_module()
class LongTailClassifier(BaseModel):
    """Backbone, global average pooling and a linear classifier; ``loss_cls`` is any registered
    mmdet loss that takes (N, C) logits and (N,) labels (CrossEntropyLoss, SoftmaxEQLLoss, ...).
    The backbone is any registered one: a backbone that returns a tuple of feature maps (mmdet's
    ResNet) is classified from the last; ``in_channels`` gives its width when the backbone has no
    ``out_channels`` attribute (CifarResNet has one).

    ``predict`` returns one dict a sample: ``pred_label``, ``gt_label`` and ``scores`` (softmax)."""

    def __init__(self,
                 backbone: dict,
                 num_classes: int,
                 loss_cls: dict,
                 in_channels: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        # built here from mmdet's registry (BaseModel would look in mmengine's, which does not
        # hold the project's components when no default scope is set)
        preprocessor = MODELS.build(data_preprocessor or dict(type='LongTailClsPreprocessor'))
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if in_channels is None:
            in_channels = getattr(self.backbone, 'out_channels', None)
            if in_channels is None:
                raise ValueError(f'LongTailClassifier: the backbone {backbone.get("type")!r} has '
                                 'no out_channels attribute; give in_channels (the width of its '
                                 'last feature map)')
        self.fc = nn.Linear(in_channels, num_classes)
        self.num_classes = num_classes
        self.loss_cls = MODELS.build(loss_cls)

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(inputs)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        return self.fc(feats.mean((2, 3)))

    def forward(self,
                inputs: torch.Tensor,
                data_samples: torch.Tensor = None,
                mode: str = 'tensor'):
        logits = self.logits(inputs)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            loss = self.loss_cls(logits, data_samples)
            acc = (logits.detach().argmax(1) == data_samples).float().mean() * 100
            return dict(loss_cls=loss, acc=acc)
        if mode == 'predict':
            scores = logits.softmax(1)
            return [
                dict(pred_label=int(p), gt_label=int(g), scores=s)
                for p, g, s in zip(scores.argmax(1), data_samples, scores)
            ]
        raise ValueError(f'LongTailClassifier: unknown mode {mode!r}')
