"""The embedded Genesys Cloud simulator: an independent, in-memory model of the platform.

grantwarden's demo, tests and benchmarks run against this package because no live Genesys Cloud
is reachable. Its fidelity matters as much as the daemon's, so it models the platform from the
reference (``reference/genesys-platform.md``, "What a faithful simulator must reproduce") and
imports nothing of the daemon but ``grantwarden.base.clock``: a simulator built from the daemon's
own rules would only agree with it. Entry points: ``serving.start``/``serving.main`` (the
``grantwarden simulate`` command), ``testing.running`` (tests), ``control`` and ``control_orgs``
(test knobs) and ``scenarios.load`` / ``generator.generate`` (worlds).
"""
