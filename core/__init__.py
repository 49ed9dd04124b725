"""warroom's core: config, transports, probes, incidents, runbooks, journal, reports.

Nothing here imports Textual or Rich: the same core serves the console, the
headless ``warroom check`` and the tests.
"""
