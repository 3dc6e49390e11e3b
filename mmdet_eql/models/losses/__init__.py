from .eql_loss import EQLLoss, eql_per_roi

__all__ = ['EQLLoss', 'eql_per_roi']
