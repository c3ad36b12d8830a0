// "Live microphone": partials shown greyed and replaced in place, finals appended, a level meter; Stop
// shows `done`'s whole transcript.

import { ApiError } from "./api.js";
import { setAudioSource } from "./audio-sources.js";
import { LiveSession } from "./live-session.js";
import { $, apiKey, clearError, language, showError } from "./page.js";

let session = null;
const segments = new Map(); // segment_id → its <span> in #live

/** The span of one utterance, made on its first partial or final, kept in segment order. */
function segmentSpan(segmentId) {
  let span = segments.get(segmentId);
  if (!span) {
    span = document.createElement("span");
    span.dataset.segment = segmentId;
    span.dataset.partials = "0";
    // Finals come in segment order, but a partial of the next utterance can come before them.
    const later = [...segments.entries()].filter(([id]) => id > segmentId).sort(([a], [b]) => a - b);
    $("#live").insertBefore(span, later.length ? later[0][1] : null);
    segments.set(segmentId, span);
  }
  return span;
}

function onMessage(message) {
  const status = $("#mic-status");
  switch (message.type) {
    case "partial": {
      const span = segmentSpan(message.segment_id);
      if (span.classList.contains("final")) return;
      span.className = "partial";
      span.dataset.partials = String(Number(span.dataset.partials) + 1);
      span.textContent = `${message.text.trim()} `;
      break;
    }
    case "final": {
      const span = segmentSpan(message.segment_id);
      span.className = "final";
      span.textContent = `${message.text.trim()} `;
      break;
    }
    case "done": {
      $("#mic-transcript").textContent = message.text;
      const lost = message.missing_chunk_ids.length + message.failed_segment_ids.length;
      $("#mic-summary").textContent =
        `${message.audio_duration_seconds.toFixed(2)} s of audio, ${message.segments} segment(s), ` +
        `language ${message.language || "–"}` +
        (lost
          ? `; lost: chunks ${message.missing_chunk_ids.join(", ") || "none"}, ` +
            `segments ${message.failed_segment_ids.join(", ") || "none"}.`
          : ".");
      $("#mic-done").hidden = false;
      status.textContent = "Done.";
      break;
    }
    case "error":
      if (message.severity === "warning") status.textContent = `Warning: ${message.code}: ${message.message}`;
      else showError($("#mic-error"), new ApiError({ ...message, closeCode: message.close_code }));
      break;
  }
}

function onEnd(close, ended) {
  const record = $("#record");
  const stop = $("#stop");
  $("#level").value = 0;
  record.disabled = false;
  stop.disabled = true;
  if (close.code !== 1000 && $("#mic-error").hidden) {
    const reason = close.reason || "the stream ended";
    showError($("#mic-error"), new ApiError({ closeCode: close.code, code: "closed", message: reason }));
  }
  if (ended.frames.length) setAudioSource("recording", ended.wav());
  record.focus();
}

async function startRecording() {
  const record = $("#record");
  const stop = $("#stop");
  const status = $("#mic-status");
  clearError($("#mic-error"));
  $("#live").replaceChildren();
  $("#mic-done").hidden = true;
  segments.clear();
  record.disabled = true;
  status.textContent = "Starting the microphone…";
  const started = new LiveSession({
    onMessage,
    onLevel: (level) => {
      $("#level").value = Math.min(1, level * 4); // speech RMS is mostly below 0.25
    },
    onEnd: (close) => onEnd(close, started),
  });
  session = started;
  try {
    const ready = await started.start(apiKey(), language());
    status.textContent = `Recording (${ready.backend}, ${ready.model}). Speak, then press Stop.`;
    stop.disabled = false;
    stop.focus();
  } catch (error) {
    started.release();
    record.disabled = false;
    status.textContent = "Not recording.";
    showError($("#mic-error"), error);
  }
}

function stopRecording() {
  $("#stop").disabled = true;
  $("#mic-status").textContent = "Finishing: the last words are being transcribed…";
  session?.stop();
}

export function setUpMicrophonePanel() {
  $("#record").addEventListener("click", startRecording);
  $("#stop").addEventListener("click", stopRecording);
  if (!navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) {
    $("#record").disabled = true;
    $("#mic-status").textContent =
      "This browser cannot record here: the microphone needs a secure page (https:// or localhost).";
  }
}
