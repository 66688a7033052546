"""``python -m grantwarden`` is ``grantwarden``."""

from grantwarden import cli

cli.run()
