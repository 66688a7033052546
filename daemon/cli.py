"""The ``grantwarden`` command line (design.md §2.1): argv → settings → logs → the command.

This is the only module that exits the process, writes to the terminal outside of log lines, or
configures logging. Every command returns its exit code: 0 success, 1 a refusal or an unhealthy
tenant, 2 invalid configuration or usage. Invalid configuration is reported as one line per
problem naming the file, the path inside it and what is wrong, never as a traceback.
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Callable, Sequence

from daemon import __version__, configfile, schema
from daemon.policy import sharding

EXIT_OK, EXIT_UNHEALTHY, EXIT_CONFIG = 0, 1, 2


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _validate_config(args: argparse.Namespace) -> int:
    try:
        loaded = configfile.load(args.file)
    except configfile.ConfigError as exc:
        for line in exc.lines():
            _err(line)
        return EXIT_CONFIG
    for warning in loaded.warnings:
        _err(f"warning: {warning}")
    try:
        configfile.resolve_secrets(loaded)
    except configfile.ConfigError as exc:
        for line in exc.lines():
            _err(f"warning: {line} (needed at run time)")
    for line in summary(loaded):
        _out(line)
    return EXIT_OK


def summary(loaded: configfile.Loaded) -> list[str]:
    """What ``validate-config`` prints: tenants, shards, blueprints; never a secret."""
    cfg = loaded.settings
    by_blueprint = collections.Counter(t.blueprint for t in cfg.tenants)
    by_grant = collections.Counter(str(t.credentials.grant) for t in cfg.tenants)
    lines = [f"{loaded.source}: valid", f"tenants: {len(cfg.tenants)}"]
    lines += [f"  grant {grant}: {count}" for grant, count in sorted(by_grant.items())]
    count = cfg.sharding.count
    per_shard = collections.Counter(
        sharding.jump_hash(sharding.fnv1a_64(t.org_id.encode()), count) for t in cfg.tenants
    )
    fixed = "" if cfg.sharding.index is None else f", this replica is shard {cfg.sharding.index}"
    lines.append(f"shards: {count}{fixed}")
    if count > 1:
        lines += [f"  shard {index}: {per_shard.get(index, 0)} tenants" for index in range(count)]
    lines.append(f"blueprints: {len(cfg.blueprints)}")
    for name, blueprint in sorted(cfg.blueprints.items()):
        probes = ", ".join(probe.name for probe in blueprint.probe_defs())
        lines.append(f"  {name} ({by_blueprint.get(name, 0)} tenants): probes {probes}")
        if blueprint.grants.roles or blueprint.grants.scopes:
            roles = ", ".join(blueprint.grants.roles) or "none"
            scopes = ", ".join(blueprint.grants.scopes) or "none"
            lines.append(f"    may grant roles: {roles} (division {blueprint.grants.division}); scopes: {scopes}")
    return lines


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema.render())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grantwarden",
        description="Keeps a multi-org Genesys Cloud integration authorised.",
    )
    parser.add_argument("--version", action="version", version=f"grantwarden {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    validate = commands.add_parser("validate-config", help="validate a configuration file and summarise it")
    validate.add_argument("file", help="the YAML configuration file")
    validate.set_defaults(handler=_validate_config)

    schema_cmd = commands.add_parser("schema", help="print the configuration file's JSON Schema")
    schema_cmd.set_defaults(handler=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def run() -> None:
    sys.exit(main())
