"""The configuration file: models, loading, secret references, the JSON Schema.

``models`` (with ``values``) is the single description of the file; ``loading`` reads it
(``yamlfile``, repeated keys by ``yamlkeys``), merges ``GRANTWARDEN_`` overrides
(``environment``), resolves inheritance (``inheritance``), reports every problem once as
``FILE: line N: path: what`` (``reporting``) and warns of what a valid file still risks
(``cautions``); ``isolated`` parses large files in a child interpreter; ``secretrefs`` are
``{env: NAME}`` / ``{file: PATH}`` references resolved at use. Knows no HTTP and no tenant loop.
"""
