"""``python -m daemon`` is ``grantwarden``."""

from daemon import cli

cli.run()
