from .class_freq_check_hook import ClassFreqCheckHook

__all__ = ['ClassFreqCheckHook']
