"""A Griffe extension for the API pages: the RST roles of our docstrings rendered as code.

Docstrings cite other objects as ``:func:`settings_of``` or ``:meth:`~forecast.jobs.engine.Engine.read_forecasts```
(Sphinx's roles). Markdown has no roles, so mkdocstrings would print the role's name; here each becomes a code
span of its target (the last component only where the target starts with ``~``, as Sphinx shows it).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj):`(~?)([^`]+)`")


def without_roles(text: str) -> str:
    """``text`` with every role replaced by a code span of its target."""
    return ROLE.sub(lambda match: f"`{match[2].rsplit('.', 1)[-1] if match[1] else match[2]}`", text)


class RstRoles(griffe.Extension):
    """Rewrites the docstring of every object Griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = without_roles(obj.docstring.value)
