# vLLM for voxtral-gateway (Kubernetes and compose.yaml): the official image plus vLLM's `audio` extra
# (in 0.33: av, scipy, soundfile, soxr, mistral_common[audio]; librosa is gone). vLLM's Docker docs
# say the image leaves optional dependencies out (licensing), and 0.33's base requirements carry only
# mistral_common[image]: without the extra, Voxtral's audio fails with "Please install vllm[audio]".
# The extra's version must be the base image's.
#
#   docker build -f deploy/kubernetes/images/vllm-audio.Dockerfile -t voxtral-gateway/vllm-audio:0.33.0 .
FROM vllm/vllm-openai:v0.33.0
RUN uv pip install --system "vllm[audio]==0.33.0"
