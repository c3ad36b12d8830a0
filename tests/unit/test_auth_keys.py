"""API keys at rest (hashes only), their verification and reloading, and the keys command."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import msgspec
import pytest

from voxtral_gateway.auth import (
    ApiKeyFile,
    ApiKeyStore,
    KeysFileError,
    hash_key,
    keys_command,
    new_key,
    read_keys_file,
    write_keys_file,
)
from voxtral_gateway.auth._keys import new_record


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_new_keys_are_random_and_only_their_hash_is_written(tmp_path: Path):
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100 and all(k.startswith("vxg_") and len(k) >= 40 for k in keys)
    key = next(iter(keys))
    path = tmp_path / "keys.json"
    write_keys_file(path, ApiKeyFile(keys=[new_record("alice", key)]))
    text = path.read_text()
    assert key not in text and key[4:] not in text
    assert hashlib.sha256(key.encode()).hexdigest() in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_keys_file(path).keys[0].sha256 == hash_key(key)


def test_store_verifies_by_hash_and_reloads_a_changed_file(tmp_path: Path):
    path, clock = tmp_path / "keys.json", Clock()
    alice, bob = new_key(), new_key()
    write_keys_file(path, ApiKeyFile(keys=[new_record("alice", alice)]))
    store = ApiKeyStore(path, clock=clock)
    record = store.verify(alice)
    assert record is not None and record.name == "alice"
    assert store.verify(bob) is None and store.verify("") is None

    records = [msgspec.structs.replace(store.records[0], disabled=True), new_record("bob", bob)]
    write_keys_file(path, ApiKeyFile(keys=records))
    assert store.verify(bob) is None  # checked at most once a second
    clock.now += 1.1
    assert store.verify(bob) is not None
    disabled = store.verify(alice)
    assert disabled is not None and disabled.disabled

    path.write_text("{not json")  # a broken edit keeps the keys last read
    clock.now += 1.1
    assert store.verify(bob) is not None
    path.unlink()  # and so does a deleted file: the gateway does not become open
    clock.now += 1.1
    assert store.verify(bob) is not None


def test_a_missing_or_invalid_file_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(KeysFileError, match=r"nope\.json"):
        ApiKeyStore(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": [{"id": "k", "name": "x", "sha256": "short", "created_at": "now"}]}')
    with pytest.raises(KeysFileError, match=r"bad\.json"):
        ApiKeyStore(bad)


def test_keys_command_creates_lists_disables_and_enables(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "config" / "api_keys.json"
    assert keys_command(["keys", "create", "--name", "alice", "--file", str(path)]) == 0
    alice = capsys.readouterr().out.strip()
    assert alice.startswith("vxg_")
    argv = ["keys", "create", "--name", "bob", "--file", str(path), "--limit", "transcription=7"]
    assert keys_command([*argv, "--max-streams", "2"]) == 0
    bob = capsys.readouterr().out.strip()
    assert keys_command(["keys", "create", "--name", "alice", "--file", str(path)]) == 1  # names are unique
    assert "already exists" in capsys.readouterr().err

    stored = read_keys_file(path).keys
    assert [r.name for r in stored] == ["alice", "bob"]
    assert stored[1].limits is not None
    assert (stored[1].limits.transcription, stored[1].limits.max_streams) == (7, 2)
    assert alice not in path.read_text() and bob not in path.read_text()

    assert keys_command(["keys", "disable", "alice", "--file", str(path)]) == 0
    assert keys_command(["keys", "list", "--file", str(path)]) == 0
    listing = capsys.readouterr().out
    assert "alice\tdisabled" in listing and "bob\tenabled" in listing and '"transcription":7' in listing
    assert alice not in listing and hash_key(alice) not in listing
    assert keys_command(["keys", "enable", stored[0].id, "--file", str(path)]) == 0
    assert not read_keys_file(path).keys[0].disabled
    assert keys_command(["keys", "disable", "nobody", "--file", str(path)]) == 1


def test_keys_command_refuses_bad_limits(tmp_path: Path):
    with pytest.raises(SystemExit):
        keys_command(
            ["keys", "create", "--name", "x", "--file", str(tmp_path / "k.json"), "--limit", "gpu=3"]
        )
