"""Reusable Textual panes that render core snapshots."""
