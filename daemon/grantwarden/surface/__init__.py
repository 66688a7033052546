"""The operator surface: the HTTP listener (health, readiness, status, metrics), the status page,
and the event-loop watchdog. Reads what the worker layer records; holds no tenant logic.
"""
