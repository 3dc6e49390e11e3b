from .plots import plot_group_ap, plot_per_category_ap

__all__ = ['plot_group_ap', 'plot_per_category_ap']
