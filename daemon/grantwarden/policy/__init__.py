"""Pure decisions: no I/O, no clock reads, no aiohttp, structlog or prometheus_client.

Every function here takes plain data, ``now`` and (where randomness matters) an injected
``random.Random``, and returns plain data. The I/O shells in the package above fetch the facts,
call these, and carry out what they return. Tests are tables.
"""
