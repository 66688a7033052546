"""The configuration file: models, loading, secret references, the JSON Schema.

``models`` is the single description of the file (pydantic-settings); ``loading`` reads YAML,
merges ``GRANTWARDEN_`` overrides, resolves inheritance and reports every problem as
``FILE: path: what``; ``isolated`` parses large files in a child interpreter; ``secretrefs`` are
``{env: NAME}`` / ``{file: PATH}`` references resolved at use. Knows no HTTP and no tenant loop.
"""
