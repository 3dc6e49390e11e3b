from .io import ToolError, load_json, write_json

__all__ = ['ToolError', 'load_json', 'write_json']
