"""MkDocs hooks: the generated reference pages join the site as virtual files (`docs/reference_pages.py`).

Nothing is written into the source tree; `mkdocs build --strict` then checks every link of the generated pages
like those of the written ones.
"""

from __future__ import annotations

import reference_pages
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

GENERATED = {
    reference_pages.SETTINGS_PAGE: reference_pages.settings_reference,
    reference_pages.CLI_PAGE: reference_pages.cli_reference,
    reference_pages.JOB_SPEC_PAGE: reference_pages.job_spec_reference,
}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add every generated page."""
    for path, page in GENERATED.items():
        files.append(File.generated(config, path, content=page()))
    return files
