# vLLM for voxtral-gateway on Kubernetes: the official image plus vLLM's `audio` extra (librosa,
# soundfile, mistral_common[audio]), which it leaves out and without which every transcription fails
# with "Please install vllm[audio]". The extra's version must be the base image's.
#
#   docker build -f deploy/kubernetes/images/vllm-audio.Dockerfile -t voxtral-gateway/vllm-audio:0.33.0 .
FROM vllm/vllm-openai:v0.33.0
RUN uv pip install --system "vllm[audio]==0.33.0"
