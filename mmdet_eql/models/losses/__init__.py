from .ecm_loss import EffectiveClassMarginLoss, ecm_terms
from .efl_loss import EqualizedFocalLoss, efl_focusing_factors, efl_grad_magnitude
from .eql_loss import EQLLoss, eql_per_roi
from .eqlv2_loss import EqualizationLossV2, eqlv2_weights
from .federated_loss import FederatedLoss, sample_classes, sampling_weights
from .gol_loss import GumbelOptimizedLoss, drop_weights, gumbel_bce, gumbel_probability
from .grad_stats import GradientStatistics, split_by_label
from .softmax_eql_loss import SoftmaxEQLLoss, draw_beta, seql_per_sample

__all__ = [
    'EQLLoss', 'eql_per_roi', 'EqualizationLossV2', 'eqlv2_weights', 'EqualizedFocalLoss',
    'efl_focusing_factors', 'efl_grad_magnitude', 'GradientStatistics', 'split_by_label',
    'FederatedLoss', 'sample_classes', 'sampling_weights', 'SoftmaxEQLLoss', 'draw_beta',
    'seql_per_sample', 'EffectiveClassMarginLoss', 'ecm_terms', 'GumbelOptimizedLoss',
    'drop_weights', 'gumbel_bce', 'gumbel_probability'
]
