"""The ``grantwarden`` command line (design.md §2.1): argv → settings → logs → the command.

This is the only module that exits the process, writes to the terminal outside of log lines, or
configures logging. Every command returns its exit code: 0 success, 1 a refusal or an unhealthy
tenant, 2 invalid configuration or usage. Invalid configuration is reported as one line per
problem naming the file, the path inside it and what is wrong, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import os
import sys
from collections.abc import Callable, Sequence

from grantwarden import __version__
from grantwarden.app import authorizing, checking, fleet, runtime
from grantwarden.base import clock as clock_mod
from grantwarden.base import logs, redaction
from grantwarden.config import isolated as configproc
from grantwarden.config import loading as configfile
from grantwarden.config import schema
from grantwarden.demo import runner as demo
from grantwarden.policy import sharding
from grantwarden.simulator import serving as simulator_serving

EXIT_OK, EXIT_UNHEALTHY, EXIT_CONFIG = 0, 1, 2


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _validate_config(args: argparse.Namespace) -> int:
    """Every problem once on stderr and exit 2; or the summary on stdout, warnings (literal
    secrets, shared clients, secrets that do not resolve here) on stderr, and exit 0."""
    try:
        loaded = configfile.load(args.file)
    except configfile.ConfigError as exc:
        for line in exc.lines():
            _err(line)
        return EXIT_CONFIG
    for warning in loaded.warnings:
        _err(f"warning: {warning}")
    try:
        configfile.resolve_secrets(loaded, environ=os.environ)
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
    on_purpose = " (tenants: [], none on purpose)" if loaded.tenants_empty_on_purpose else ""
    lines = [f"{loaded.source}: valid", f"tenants: {len(cfg.tenants)}{on_purpose}"]
    lines += [f"  grant {grant}: {count}" for grant, count in sorted(by_grant.items())]
    if loaded.shared_clients:
        shared = sum(len(names) for names in loaded.shared_clients.values())
        lines.append(f"  sharing an OAuth client with another tenant: {shared} (see the warnings)")
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


def _load_for_use(path: str | None, *, every_secret: bool = True) -> configfile.Loaded | None:
    """Load and resolve secrets; print the problems and return None when the file is invalid.

    ``every_secret`` False (``run`` without ``--strict``): only server-level secrets must resolve;
    a tenant's that does not is a warning, and that tenant alone waits in needs_attention."""
    source = configfile.config_path_from(path)
    if source is None:
        _err("grantwarden: no configuration: give --config FILE or set GRANTWARDEN_CONFIG")
        return None
    try:
        loaded = configproc.load(source)  # a large file is parsed in a child interpreter
        fleet.check_secrets(loaded, os.environ, strict=every_secret)
    except configfile.ConfigError as exc:
        for line in exc.lines():
            _err(line)
        return None
    for warning in loaded.warnings:
        _err(f"warning: {warning}")
    if not every_secret:
        for warning in fleet.tenant_secret_warnings(loaded, os.environ):
            _err(f"warning: {warning}")
    return loaded


def _run(args: argparse.Namespace) -> int:
    loaded = _load_for_use(args.config, every_secret=args.strict)
    if loaded is None:
        return EXIT_CONFIG
    redactor = redaction.Redactor()
    clock = clock_mod.LoopClock()
    cfg = loaded.settings
    logs.configure(level=cfg.logging.level, fmt=cfg.logging.format, redactor=redactor, clock=clock)
    options = runtime.Options(clock=clock, environ=dict(os.environ), redactor=redactor, strict=args.strict)
    try:
        return asyncio.run(runtime.run(loaded, options))
    except fleet.ShardError as exc:
        _err(f"{loaded.source}: sharding: {exc}")
        return EXIT_CONFIG
    except configfile.ConfigError as exc:  # a secret that resolved a moment ago does not now
        for line in exc.lines():
            _err(line)
        return EXIT_CONFIG
    except OSError as exc:  # the listener's port is taken, for instance
        _err(f"grantwarden: cannot start: {exc.strerror or exc}")
        return EXIT_CONFIG


def _check(args: argparse.Namespace, *, with_plan: bool) -> int:
    loaded = _load_for_use(args.config)
    if loaded is None:
        return EXIT_CONFIG
    names = [args.tenant] if getattr(args, "tenant", None) else None
    if names and loaded.settings.tenant(names[0]) is None:
        _err(f"{loaded.source}: tenants: no tenant named {names[0]!r}")
        return EXIT_CONFIG
    redactor = redaction.Redactor()
    clock = clock_mod.LoopClock()
    logs.configure(
        level="error" if not args.verbose else "info", fmt="console", redactor=redactor, stream=sys.stderr, clock=clock
    )
    results = asyncio.run(
        checking.check(
            loaded, names=names, clock=clock, redactor=redactor, environ=os.environ, max_wait_s=args.max_wait, tell=_err
        )
    )
    if getattr(args, "format", "text") == "terraform":
        for line in checking.terraform_report(results):
            _out(line)
    elif args.json or getattr(args, "format", "text") == "json":
        _out(json.dumps(checking.as_json(results, with_plan=with_plan), indent=2))
    else:
        for line in checking.report(results, with_plan=with_plan):
            _out(line)
    return EXIT_OK if checking.healthy(results) else EXIT_UNHEALTHY


def _demo(args: argparse.Namespace) -> int:
    return demo.main(duration_s=args.duration, listen=args.listen, out=sys.stdout, err=sys.stderr)


def _authorize(args: argparse.Namespace) -> int:
    loaded = _load_for_use(args.config)
    if loaded is None:
        return EXIT_CONFIG
    try:
        return authorizing.main(
            loaded,
            args.tenant,
            paste=args.paste,
            no_browser=args.no_browser,
            out=sys.stdout,
            err=sys.stderr,
            stdin=sys.stdin,
            environ=os.environ,
        )
    except KeyboardInterrupt:
        _err("grantwarden authorize: interrupted; nothing was stored")
        return EXIT_UNHEALTHY


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema.render())
    return EXIT_OK


def _seconds(text: str) -> float:
    """A number of seconds, 0 or more (``--max-wait``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more seconds")
    return value


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

    run = commands.add_parser("run", help="run the daemon until SIGTERM; SIGHUP reloads the configuration")
    run.add_argument("--config", help="the YAML configuration (default: $GRANTWARDEN_CONFIG)")
    run.add_argument(
        "--strict",
        action="store_true",
        help="refuse to start (or reload) when any tenant's secret cannot be resolved, instead of "
        "running the others and showing that tenant as needs_attention",
    )
    run.set_defaults(handler=_run)

    for name, with_plan, text in (
        ("check", False, "one pass over every tenant: token, identity, probes, diagnosis; changes nothing"),
        ("plan", True, "like check, then the re-grants that run would apply; changes nothing"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", help="the YAML configuration (default: $GRANTWARDEN_CONFIG)")
        output = sub.add_mutually_exclusive_group()
        output.add_argument("--json", action="store_true", help="print JSON instead of the report")
        if with_plan:
            output.add_argument(
                "--format",
                choices=("text", "json", "terraform"),
                default="text",
                help="text (the report), json (as --json) or terraform: the genesyscloud_oauth_client blocks to add",
            )
        sub.add_argument("--tenant", help="only this tenant")
        sub.add_argument("--verbose", action="store_true", help="log what happens to stderr")
        sub.add_argument(
            "--max-wait",
            type=_seconds,
            metavar="SECONDS",
            help="wait out a Retry-After only this long, else report the tenant rate limited (default 60)",
        )
        sub.set_defaults(handler=functools.partial(_check, with_plan=with_plan))

    simulate = commands.add_parser("simulate", help="serve the embedded Genesys Cloud simulator", add_help=False)
    authorize = commands.add_parser(
        "authorize", help="sign in a user-grant tenant (authorization code + PKCE) and store its refresh token"
    )
    authorize.add_argument("--config", help="the YAML configuration (default: $GRANTWARDEN_CONFIG)")
    authorize.add_argument("--tenant", required=True, help="the authorization_code tenant to sign in")
    authorize.add_argument("--paste", action="store_true", help="paste the redirect URL instead of listening for it")
    authorize.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    authorize.set_defaults(handler=_authorize)

    # main() hands "simulate ..." to the simulator before this parser sees it; listed here for --help.
    simulate.add_argument("options", nargs="*", help="see grantwarden simulate --help")

    demo_cmd = commands.add_parser("demo", help="the simulator's demo world with the daemon on it; prints what happens")
    demo_cmd.add_argument("--duration", type=float, default=45.0, metavar="SECONDS", help="stop after this long (45)")
    demo_cmd.add_argument("--listen", default="127.0.0.1:9464", metavar="HOST:PORT", help="status page and /metrics")
    demo_cmd.set_defaults(handler=_demo)

    schema_cmd = commands.add_parser("schema", help="print the configuration file's JSON Schema")
    schema_cmd.set_defaults(handler=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["simulate"]:  # the simulator parses its own options (and its own --help)
        return simulator_serving.main(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def run() -> None:
    sys.exit(main())
