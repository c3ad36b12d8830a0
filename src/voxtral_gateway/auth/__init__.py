"""API keys: stored as SHA-256 hashes only, compared in constant time, never logged."""

from voxtral_gateway.auth._cli import main as keys_command
from voxtral_gateway.auth._credentials import bearer_key, query_key
from voxtral_gateway.auth._keys import (
    DEFAULT_KEYS_FILE,
    ApiKeyFile,
    ApiKeyRecord,
    KeyLimits,
    KeysFileError,
    hash_key,
    new_key,
    read_keys_file,
    write_keys_file,
)
from voxtral_gateway.auth._store import ApiKeyStore

__all__ = [
    "DEFAULT_KEYS_FILE",
    "ApiKeyFile",
    "ApiKeyRecord",
    "ApiKeyStore",
    "KeyLimits",
    "KeysFileError",
    "bearer_key",
    "hash_key",
    "keys_command",
    "new_key",
    "query_key",
    "read_keys_file",
    "write_keys_file",
]
