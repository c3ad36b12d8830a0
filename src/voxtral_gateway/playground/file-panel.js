// "Transcribe a file": POST /v1/audio/transcriptions with response_format=verbose_json (the route whose
// answer has timed segments); the downloads ask the same route for srt, vtt and text, so every format is
// the API's own.

import { callApi, parseServerTiming } from "./api.js";
import { setAudioSource } from "./audio-sources.js";
import { $, apiKey, clearError, duration, fileSize, language, minutesAndSeconds, showError } from "./page.js";

const TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions";
const DOWNLOAD_EXTENSIONS = { srt: "srt", vtt: "vtt", text: "txt" };

let currentFile = null;

function transcriptionForm(file, responseFormat) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("model", "whisper-1"); // the gateway's alias for its served model
  form.append("response_format", responseFormat);
  if (language()) form.append("language", language());
  return form;
}

async function transcribe(file) {
  const status = $("#file-status");
  const errorBox = $("#file-error");
  clearError(errorBox);
  $("#file-result").hidden = true;
  currentFile = file;
  status.textContent = `Transcribing ${file.name} (${fileSize(file.size)})…`;
  const started = performance.now();
  try {
    const response = await callApi(TRANSCRIPTIONS_PATH, apiKey(), {
      method: "POST",
      body: transcriptionForm(file, "verbose_json"),
    });
    const result = await response.json();
    show(result, parseServerTiming(response.headers.get("Server-Timing")));
    setAudioSource("file", file); // audio the API could read: questions can be about it
    status.textContent = `${file.name}: done in ${duration(performance.now() - started)} (round trip).`;
  } catch (error) {
    status.textContent = `${file.name}: failed.`;
    showError(errorBox, error);
  }
}

function show(result, timing) {
  $("#file-language").textContent = result.language || "–";
  $("#file-duration").textContent = `${result.duration.toFixed(2)} s`;
  $("#file-processing").textContent = "total" in timing ? duration(timing.total) : "–";
  $("#file-timing").textContent =
    ["decode", "queue", "upstream"]
      .filter((name) => name in timing)
      .map((name) => `${name} ${duration(timing[name])}`)
      .join(" · ") || "–";
  const rows = result.segments.map((segment) => {
    const row = document.createElement("tr");
    for (const value of [minutesAndSeconds(segment.start), minutesAndSeconds(segment.end), segment.text.trim()]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    return row;
  });
  $("#segments tbody").replaceChildren(...rows);
  $("#file-result").hidden = false;
}

async function download(responseFormat) {
  const status = $("#file-status");
  const errorBox = $("#file-error");
  const file = currentFile;
  if (!file) return;
  clearError(errorBox);
  const name = `${file.name.replace(/\.[^.]*$/, "")}.${DOWNLOAD_EXTENSIONS[responseFormat]}`;
  status.textContent = `Preparing ${name}…`;
  try {
    const response = await callApi(TRANSCRIPTIONS_PATH, apiKey(), {
      method: "POST",
      body: transcriptionForm(file, responseFormat),
    });
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status.textContent = `${name} downloaded.`;
  } catch (error) {
    status.textContent = `${name}: failed.`;
    showError(errorBox, error);
  }
}

export function setUpFilePanel() {
  const input = $("#audio-file");
  const zone = $("#drop-zone");
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = ""; // so that choosing the same file again (say, after entering a key) sends it again
    if (file) transcribe(file);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) transcribe(event.dataTransfer.files[0]);
  });
  for (const button of document.querySelectorAll("button.download")) {
    button.addEventListener("click", () => download(button.dataset.format));
  }
}
