"""The API server: HTTP in front of the store, the API verbs and the runtime's logs."""

from engine.paths import object_path, parse_target
from engine.server.app import Server

__all__ = ["Server", "object_path", "parse_target"]
