# As the R50 config, with a ResNet-101 backbone (ImageNet-pretrained: torchvision's IMAGENET1K_V1
# weights by URL, cached in $TORCH_HOME/hub/checkpoints/; no torchvision needed).
_base_ = './mask-rcnn_r50_fpn_fed_sample1e-3-ms-1x_lvis-v1.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet101-63fe2227.pth')))
