"""`python -m voxtral_gateway keys ...`: create, list, disable and enable API keys in the keys file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import msgspec

from voxtral_gateway.auth._keys import (
    DEFAULT_KEYS_FILE,
    ApiKeyFile,
    ApiKeyRecord,
    KeyLimits,
    KeysFileError,
    new_key,
    new_record,
    read_keys_file,
    write_keys_file,
)

_TIERS = ("general", "transcription", "understanding", "batch")


def _default_file() -> Path:
    return Path(os.environ.get("API_KEYS_FILE") or DEFAULT_KEYS_FILE)


def _limit(text: str) -> tuple[str, int]:
    tier, _, value = text.partition("=")
    if tier not in _TIERS or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(
            f"expected TIER=N with TIER one of {', '.join(_TIERS)}, got {text!r}"
        )
    return tier, int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m voxtral_gateway", description="voxtral-gateway tools")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="manage API keys (only their SHA-256 hashes are stored)")
    actions = keys.add_subparsers(dest="action", required=True)
    file_help = f"keys file (default: API_KEYS_FILE, else {DEFAULT_KEYS_FILE})"

    create = actions.add_parser("create", help="create a key; prints it once on stdout")
    create.add_argument("--name", required=True, help="a unique name for the key's holder")
    create.add_argument("--file", type=Path, help=file_help)
    create.add_argument(
        "--limit",
        type=_limit,
        action="append",
        default=[],
        metavar="TIER=N",
        help=f"per-key requests per window for a tier ({', '.join(_TIERS)}); repeatable",
    )
    create.add_argument("--max-streams", type=int, help="per-key cap on concurrent WebSocket streams")

    listing = actions.add_parser("list", help="list keys (names, ids, status, limits; never the keys)")
    listing.add_argument("--file", type=Path, help=file_help)

    for name, text in (
        ("disable", "refuse a key from now on (403)"),
        ("enable", "accept a disabled key again"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("key", metavar="NAME_OR_ID", help="the key's name or id")
        action.add_argument("--file", type=Path, help=file_help)
    return parser


def _read(path: Path) -> ApiKeyFile:
    return read_keys_file(path) if path.exists() else ApiKeyFile()


def _create(path: Path, args: argparse.Namespace) -> int:
    keys = _read(path)
    if any(record.name == args.name for record in keys.keys):
        print(f"a key named {args.name!r} already exists in {path}", file=sys.stderr)
        return 1
    overrides = dict(args.limit)
    if args.max_streams is not None:
        overrides["max_streams"] = args.max_streams
    try:
        limits = msgspec.convert(overrides, KeyLimits) if overrides else None
    except msgspec.ValidationError as exc:
        print(f"invalid limit: {exc}", file=sys.stderr)
        return 2
    key = new_key()
    record = new_record(args.name, key, limits)
    write_keys_file(path, ApiKeyFile(version=keys.version, keys=[*keys.keys, record]))
    print(key)
    print(
        f"created key {record.id} ({args.name}) in {path}; store it now: only its hash is kept",
        file=sys.stderr,
    )
    return 0


def _list(path: Path) -> int:
    for record in _read(path).keys:
        status = "disabled" if record.disabled else "enabled"
        limits = msgspec.json.encode(record.limits).decode() if record.limits else "defaults"
        print(f"{record.id}\t{record.name}\t{status}\t{record.created_at}\t{limits}")
    return 0


def _set_disabled(path: Path, which: str, disabled: bool) -> int:
    keys = _read(path)
    matches = [record for record in keys.keys if which in (record.name, record.id)]
    if not matches:
        print(f"no key named {which!r} in {path}", file=sys.stderr)
        return 1
    updated: list[ApiKeyRecord] = [
        msgspec.structs.replace(record, disabled=disabled) if record in matches else record
        for record in keys.keys
    ]
    write_keys_file(path, ApiKeyFile(version=keys.version, keys=updated))
    print(f"{'disabled' if disabled else 'enabled'} {matches[0].id} ({matches[0].name})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path: Path = args.file or _default_file()
    try:
        if args.action == "create":
            return _create(path, args)
        if args.action == "list":
            return _list(path)
        return _set_disabled(path, args.key, disabled=args.action == "disable")
    except KeysFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
