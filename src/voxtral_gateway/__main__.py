"""`python -m voxtral_gateway keys create --name NAME` and the other maintenance commands."""

from __future__ import annotations

import sys

from voxtral_gateway.auth import keys_command

if __name__ == "__main__":
    sys.exit(keys_command())
