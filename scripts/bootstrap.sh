#!/usr/bin/env bash
# Install voxtral-gateway into ./.venv (Python 3.11+).
#   bash scripts/bootstrap.sh         the server and its runtime dependencies
#   bash scripts/bootstrap.sh --dev   also the test tools, and ffmpeg + espeak-ng (Debian) for test audio
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
extras=""
if [[ "${1:-}" == "--dev" ]]; then
  extras="[test]"
  missing=()
  for tool in ffmpeg espeak-ng; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if ((${#missing[@]})); then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "installing ${missing[*]} (Debian packages)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extras}"
echo "voxtral-gateway installed in .venv"

if [[ -n "$extras" ]]; then
  # LiveKit's Mistral STT plugin pins mistralai<3, so it cannot share .venv with the mistralai 3.x SDK the
  # other tests use: tests/integration/test_realtime_livekit_mistral.py and test_livekit_mistral_recognize.py
  # run it from its own environment.
  [[ -x .venv-livekit-mistral/bin/python ]] || "$python" -m venv .venv-livekit-mistral
  .venv-livekit-mistral/bin/python -m pip install -q --upgrade pip
  .venv-livekit-mistral/bin/python -m pip install -q "livekit-agents>=1.8.9" "livekit-plugins-mistralai>=1.8.9" \
    "livekit-plugins-silero>=1.8.9" "mistralai[realtime]>=2,<3"
  echo "LiveKit's Mistral plugin installed in .venv-livekit-mistral (for its tests)"
fi
