"""grantwarden: keeps a multi-org Genesys Cloud integration authorised.

The package is a long-running asyncio daemon (``grantwarden run``) plus the one-shot commands
around it (check, plan, authorize, validate-config, simulate, demo). ``cli`` is the only module
that exits the process or configures logging; everything else raises and takes its dependencies
as keyword arguments.
"""

__version__ = "0.1.0"
