#!/usr/bin/env python3
"""Start voxtral-gateway with granian (ASGI). Flags override environment variables and config/*.toml.

python run_server.py --port 8080                      # embedded engine (CPU), no GPU needed
python run_server.py --voxtral-host 127.0.0.1         # vLLM serving Voxtral on port 8000
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from voxtral_gateway.settings import Settings, SettingsError, load_settings

APP_FACTORY = "voxtral_gateway.app:create_app"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Settings()
    parser = argparse.ArgumentParser(description="Run the voxtral-gateway server (granian, ASGI).")
    parser.add_argument("--host", help=f"address to bind (HOST, default {defaults.server.host})")
    parser.add_argument("--port", type=int, help=f"port to bind (PORT, default {defaults.server.port})")
    parser.add_argument(
        "--voxtral-host", help="vLLM host serving Voxtral (VOXTRAL_HOST); selects the vllm backend"
    )
    parser.add_argument(
        "--voxtral-port", type=int, help=f"vLLM port (VOXTRAL_PORT, default {defaults.vllm.port})"
    )
    parser.add_argument(
        "--reload", action="store_true", help="restart when source files change (development)"
    )
    parser.add_argument("--debug", action="store_true", help="console logs and error detail (DEBUG)")
    parser.add_argument(
        "--workers", type=int, help=f"worker processes (WORKERS, default {defaults.server.workers})"
    )
    return parser.parse_args(argv)


def apply_flags(args: argparse.Namespace) -> None:
    """Flags become environment variables, so every granian worker process sees them."""
    flags = {
        "HOST": args.host,
        "PORT": args.port,
        "VOXTRAL_HOST": args.voxtral_host,
        "VOXTRAL_PORT": args.voxtral_port,
        "WORKERS": args.workers,
        "DEBUG": "true" if args.debug else None,
    }
    for name, value in flags.items():
        if value is not None:
            os.environ[name] = str(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_flags(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"voxtral-gateway: {exc}", file=sys.stderr)
        return 2

    from granian import Granian
    from granian.constants import Interfaces

    from voxtral_gateway.observability.logging import GRANIAN_LOG_CONFIG, configure_logging
    from voxtral_gateway.observability.multiprocess_dir import metrics_directory

    # granian's own lines (start-up, workers) in the same JSON (or --debug console) format as the app's.
    configure_logging(settings.observability.debug)
    src = str(Path(__file__).resolve().parent / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    # Set before the workers start (and before anything imports prometheus_client): /metrics then
    # adds up every worker's counters.
    # Workers start as fresh interpreters, not forks: a forked worker inherits granian's main-process
    # SIGTERM handler, which swallows a SIGTERM that arrives while the worker is still starting, and
    # the worker then runs until granian kills it (workers_kill_timeout). Fresh, it stops at once.
    multiprocessing.set_start_method("spawn", force=True)
    with metrics_directory():
        Granian(
            APP_FACTORY,
            factory=True,
            address=settings.server.host,
            port=settings.server.port,
            interface=Interfaces.ASGI,
            workers=settings.server.workers,
            reload=args.reload,
            reload_paths=[Path(src)] if args.reload else None,
            log_level="debug" if settings.observability.debug else "info",
            log_dictconfig=GRANIAN_LOG_CONFIG,
            # A worker drains for SHUTDOWN_TIMEOUT_SECONDS after SIGTERM (lifecycle/shutdown.py); this is
            # the backstop after which granian kills it.
            workers_kill_timeout=math.ceil(settings.server.shutdown_timeout_seconds) + 5,
        ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
