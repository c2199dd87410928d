"""Moved to :mod:`autonomy.serving` (the bottom layer: every server of the project uses it).

Kept for one release so code written against the old path keeps running; import-linter refuses new
imports of it from outside ``autonomy.http`` (docs/architecture.md).
"""

from autonomy.serving import ServedApp, bind_tcp

__all__ = ["ServedApp", "bind_tcp"]
