"""The `forecast` console script: SIGTERM handled before anything heavy is imported.

Importing the command line loads typer and, for the work, pandas and TensorFlow (seconds); a SIGTERM in that
time would kill the process by the signal. This module installs the handler first (exit status 143, as
`forecast.cli.main` does), then imports and runs the command line.
"""

from __future__ import annotations

import signal


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_terminated)
    from forecast.cli import main as run

    run()


def _exit_terminated(signum: int, frame) -> None:
    raise SystemExit(128 + signal.SIGTERM)
