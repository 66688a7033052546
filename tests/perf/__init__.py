"""Benchmarks (issue 8): ``make bench`` runs ``python -m tests.perf.run``.

Not collected by ``make test`` (pytest's ``norecursedirs`` skips tests/perf): these measure time,
CPU and memory, which belong here and not in tests. Everything runs on loopback; every request
loop is bounded in count and in time. Results go to bench-results.json and bench-results.md at
the repository root. Each benchmark module can also run alone (``python -m tests.perf.engine``)
and prints its workload first and its figure last.
"""
