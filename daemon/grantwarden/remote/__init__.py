"""The only code that speaks HTTP to Genesys Cloud.

``client.Client`` is the entry point (token endpoint via ``oauth``, API calls, paging);
``transport`` is the one module that touches aiohttp; ``errors`` is the exception tree every
failure becomes; ``models`` are the payloads; ``gate.Gate`` is a tenant's Retry-After floor.
Nothing here decides anything: the policy layer reads the facts these return.
"""
