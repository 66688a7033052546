"""What every layer may use and nothing in it knows of tenants or the platform.

``clock`` is the one source of time and sleeping; ``redaction`` (with ``secretindex``) hides
secrets in any text; ``logs`` configures structlog once (only ``cli`` calls it); ``heap`` moves
long-lived objects out of the garbage collector's full passes. Imports nothing of grantwarden.
"""
