from .io import ToolError, load_json, tool_main, write_json

__all__ = ['ToolError', 'load_json', 'tool_main', 'write_json']
