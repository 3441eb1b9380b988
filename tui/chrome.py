"""The frame every screen shares: the header (where you are, the connection's state) and the
key bar, each redrawn only when what it shows changes."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer, Static


class Header(Static):
    """Cluster, node and GPU counts, where you are, and the connection's state."""

    _text: str | None = None

    def show(self, text: str) -> None:
        """Show `text`, laying the screen out again only when it changed (a Static's update
        does on every call, which costs a whole screen's redraw)."""
        if text != self._text:
            self._text = text
            self.update(text)


class KeyBar(Footer):
    """The footer of keys, rebuilt only when the keys it shows change: Textual's rebuilds its
    widgets whenever the screen's bindings are refreshed (every return to the screen, as
    after the `/` prompt), which costs some 70 ms a time for a resource screen's keys."""

    _shown: tuple[Any, ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        shown = tuple((b.key, b.action, b.description, enabled, tooltip)
                      for (_, b, enabled, tooltip) in screen.active_bindings.values() if b.show)
        if shown == self._shown:
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # Footer's own test for rebuilding (done once after a refresh)
        super().bindings_changed(screen)
