"""Scheduled forecast jobs: a validated YAML spec (``spec``), one run (``runner``), its data and outputs
(``io``), its model (``models``), runs left behind by killed processes (``stale_runs``), the in-process
cron scheduler (``scheduler``) and the ``forecast job`` commands (``cli``).

Nothing is imported here: ``forecast --help`` loads ``forecast.jobs.cli`` without TensorFlow.
"""
