// voxtral-gateway playground: a file, the microphone and questions, through the gateway's public API.
// Plain ES modules, no build step:
//
//   file-panel.js        POST /v1/audio/transcriptions (verbose_json: timed segments; srt, vtt, text downloads)
//   microphone-panel.js  WS /stream/transcribe through live-session.js (AudioWorklet PCM, pcm-capture.js)
//   questions-panel.js   POST /understand/ (server-sent events)
//   api.js, page.js      requests, errors, Server-Timing; the settings fields and display helpers
//
// This module reads GET /health/ (which backend answers) and sets the panels up.

import { setUpFilePanel } from "./file-panel.js";
import { setUpMicrophonePanel } from "./microphone-panel.js";
import { $, setUpApiKey } from "./page.js";
import { disableQuestions, setUpQuestionsPanel } from "./questions-panel.js";

/** GET /health/: which backend and model answer, and whether they can answer questions about audio. */
async function checkBackend() {
  const status = $("#backend-status");
  try {
    const response = await fetch("/health/");
    const health = await response.json();
    const { kind, model, ready } = health.backend;
    status.textContent = `Backend: ${kind} · ${model} · ${ready ? "ready" : "not ready"} · gateway ${health.version}`;
    if (!health.capabilities.understanding) {
      disableQuestions(
        `Questions are not available here: this gateway runs the ${kind} engine (${model}), which ` +
          "transcribes but cannot answer questions about audio. They need the vLLM backend serving Voxtral " +
          "(the gateway's operator sets VOXTRAL_HOST).",
      );
    }
  } catch (error) {
    status.textContent = `The gateway's health could not be read: ${error.message}`;
  }
}

setUpApiKey();
setUpFilePanel();
setUpMicrophonePanel();
setUpQuestionsPanel();
checkBackend();
