// voxtral-gateway playground: a file, the microphone and questions, through the gateway's public API.
//
// - a file:       POST /v1/audio/transcriptions (verbose_json: segments with times); the downloads ask the
//                 same route for srt, vtt and text, so every format is the API's own
// - microphone:   WS /stream/transcribe, a `start` message then 16-bit PCM frames from an AudioWorklet
// - questions:    POST /understand/ with "stream": true (server-sent events)
// - capabilities: GET /health/ (the backend's kind and model)

const $ = (selector) => document.querySelector(selector);

const KEY_STORAGE = "voxtral-gateway.api-key";
const TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions";
const STREAM_PATH = "/stream/transcribe";
const FRAME_SECONDS = 0.1;
const DOWNLOAD_EXTENSIONS = { srt: "srt", vtt: "vtt", text: "txt" };

// ---------------------------------------------------------------------------------------------- the API

/** An error answered by the gateway: its HTTP status (or WebSocket close code), code and message. */
class ApiError extends Error {
  constructor({ status = null, closeCode = null, code, message, requestId = null }) {
    super(message);
    this.status = status;
    this.closeCode = closeCode;
    this.code = code;
    this.requestId = requestId;
  }
}

function apiKey() {
  return $("#api-key").value.trim();
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** fetch() with the API key; a non-2xx answer becomes an ApiError with the API's own code and message. */
async function callApi(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...options.headers } });
  if (!response.ok) throw await errorOf(response);
  return response;
}

// Both error shapes: the seed API's {"error": {"code", "message"}} and OpenAI's {"error": {"type", ...}}.
async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || "request failed";
  try {
    const error = (await response.json()).error;
    if (typeof error === "string") {
      message = error;
    } else if (error) {
      code = error.code || error.type || code;
      message = error.message || message;
    }
  } catch {
    // not JSON: the status line is all there is
  }
  return new ApiError({ status: response.status, code, message, requestId: response.headers.get("X-Request-ID") });
}

/** `Server-Timing: queue;dur=0.2, decode;dur=8.1, ...` as {queue: 0.2, decode: 8.1, ...} (milliseconds). */
function parseServerTiming(header) {
  const metrics = {};
  for (const entry of (header || "").split(",")) {
    const [name, ...params] = entry.split(";").map((part) => part.trim());
    const duration = params.find((param) => param.startsWith("dur="));
    if (name && duration) metrics[name] = Number(duration.slice(4));
  }
  return metrics;
}

// ---------------------------------------------------------------------------------------------- display

function showError(box, error) {
  box.replaceChildren();
  if (error instanceof ApiError) {
    const where = error.status !== null ? `HTTP ${error.status}` : `WebSocket close ${error.closeCode ?? "–"}`;
    const code = document.createElement("code");
    code.textContent = error.code;
    box.append(`${where} · `, code, `: ${error.message}`);
    if (error.requestId) box.append(` (request ${error.requestId})`);
  } else {
    box.append(error.message || String(error));
  }
  box.hidden = false;
}

function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

function seconds(value) {
  const minutes = Math.floor(value / 60);
  return `${minutes}:${(value - minutes * 60).toFixed(2).padStart(5, "0")}`;
}

function milliseconds(value) {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

function bytes(size) {
  return size >= 1048576 ? `${(size / 1048576).toFixed(1)} MB` : `${Math.ceil(size / 1024)} kB`;
}

// ---------------------------------------------------------------------------------------------- settings

function setUpSettings() {
  const field = $("#api-key");
  field.value = sessionStorage.getItem(KEY_STORAGE) || "";
  field.addEventListener("input", () => {
    if (field.value.trim()) sessionStorage.setItem(KEY_STORAGE, field.value.trim());
    else sessionStorage.removeItem(KEY_STORAGE);
  });
}

function language() {
  return $("#language").value;
}

/** GET /health/: which backend answers, and so whether questions can be asked. */
async function checkBackend() {
  const status = $("#backend-status");
  try {
    const response = await fetch("/health/");
    const health = await response.json();
    const { kind, model, ready } = health.backend;
    status.textContent = `Backend: ${kind} · ${model} · ${ready ? "ready" : "not ready"} · gateway ${health.version}`;
    if (kind === "embedded") {
      disableQuestions(
        `Questions are not available here: this gateway runs the embedded engine (${model}), which ` +
          "transcribes but cannot answer questions about audio. They need the vLLM backend serving Voxtral " +
          "(the gateway's operator sets VOXTRAL_HOST).",
      );
    }
  } catch (error) {
    status.textContent = `The gateway's health could not be read: ${error.message}`;
  }
}

// ---------------------------------------------------------------------------------------------- a file

const upload = { file: null };

function transcriptionForm(file, responseFormat) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("model", "whisper-1"); // the gateway's alias for its served model
  form.append("response_format", responseFormat);
  if (language()) form.append("language", language());
  return form;
}

async function transcribeFile(file) {
  const status = $("#file-status");
  const errorBox = $("#file-error");
  clearError(errorBox);
  $("#file-result").hidden = true;
  upload.file = file;
  updateQuestionSources();
  status.textContent = `Transcribing ${file.name} (${bytes(file.size)})…`;
  const started = performance.now();
  try {
    const response = await callApi(TRANSCRIPTIONS_PATH, {
      method: "POST",
      body: transcriptionForm(file, "verbose_json"),
    });
    const result = await response.json();
    showTranscription(result, parseServerTiming(response.headers.get("Server-Timing")));
    status.textContent = `${file.name}: done in ${milliseconds(performance.now() - started)} (round trip).`;
  } catch (error) {
    status.textContent = `${file.name}: failed.`;
    showError(errorBox, error);
  }
}

function showTranscription(result, timing) {
  $("#file-language").textContent = result.language || "–";
  $("#file-duration").textContent = `${result.duration.toFixed(2)} s`;
  $("#file-processing").textContent = "total" in timing ? milliseconds(timing.total) : "–";
  $("#file-timing").textContent =
    ["decode", "queue", "upstream"]
      .filter((name) => name in timing)
      .map((name) => `${name} ${milliseconds(timing[name])}`)
      .join(" · ") || "–";
  const rows = result.segments.map((segment) => {
    const row = document.createElement("tr");
    for (const value of [seconds(segment.start), seconds(segment.end), segment.text.trim()]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    return row;
  });
  $("#segments tbody").replaceChildren(...rows);
  $("#file-result").hidden = false;
}

async function downloadTranscript(responseFormat) {
  const status = $("#file-status");
  const errorBox = $("#file-error");
  const file = upload.file;
  if (!file) return;
  clearError(errorBox);
  const name = `${file.name.replace(/\.[^.]*$/, "")}.${DOWNLOAD_EXTENSIONS[responseFormat]}`;
  status.textContent = `Preparing ${name}…`;
  try {
    const response = await callApi(TRANSCRIPTIONS_PATH, {
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

function setUpFile() {
  const input = $("#audio-file");
  const zone = $("#drop-zone");
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = ""; // so that choosing the same file again (say, after entering a key) sends it again
    if (file) transcribeFile(file);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) transcribeFile(event.dataTransfer.files[0]);
  });
  for (const button of document.querySelectorAll("button.download")) {
    button.addEventListener("click", () => downloadTranscript(button.dataset.format));
  }
}

// ---------------------------------------------------------------------------------------------- microphone

/** One recording: the microphone → AudioWorklet → binary frames on WS /stream/transcribe. */
class LiveSession {
  constructor({ onMessage, onLevel, onEnd }) {
    this.onMessage = onMessage;
    this.onLevel = onLevel;
    this.onEnd = onEnd;
    this.frames = []; // the PCM sent, kept to ask questions about the recording
    this.sampleRate = 16000;
  }

  async start() {
    this.microphone = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    // The browser resamples the microphone to the context's rate: 16 kHz, the model's own.
    this.context = new AudioContext({ sampleRate: 16000 });
    await this.context.resume(); // a context made after the permission prompt may start suspended
    this.sampleRate = this.context.sampleRate;
    await this.context.audioWorklet.addModule("/playground/pcm-capture.js");
    const ready = await this.open();
    this.socket.send(
      JSON.stringify({
        type: "start",
        format: "pcm_s16le",
        sample_rate: this.sampleRate,
        ...(language() ? { language: language() } : {}),
      }),
    );
    this.capture = new AudioWorkletNode(this.context, "pcm-capture", {
      processorOptions: { frameSamples: Math.round(this.sampleRate * FRAME_SECONDS) },
    });
    this.capture.port.onmessage = (event) => this.sendFrame(event.data);
    this.source = this.context.createMediaStreamSource(this.microphone);
    this.source.connect(this.capture);
    this.capture.connect(this.context.destination); // silent: the processor writes no output
    return ready;
  }

  /** Open the socket and wait for `ready`; a refusal (an `error`, then a close) rejects. */
  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const key = apiKey();
    const query = key ? `?api_key=${encodeURIComponent(key)}` : "";
    this.socket = new WebSocket(`${scheme}://${location.host}${STREAM_PATH}${query}`);
    this.socket.binaryType = "arraybuffer";
    return new Promise((resolve, reject) => {
      let refusal = null;
      this.socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "ready") {
          this.socket.onmessage = (next) => this.onMessage(JSON.parse(next.data));
          this.socket.onclose = (close) => this.closed(close);
          resolve(message);
        } else if (message.type === "error") {
          refusal = message;
        }
      };
      this.socket.onclose = (close) => {
        this.release();
        reject(
          new ApiError({
            closeCode: close.code,
            code: refusal?.code || "connection_failed",
            message: refusal?.message || close.reason || "the live transcription socket could not be opened",
          }),
        );
      };
    });
  }

  sendFrame({ pcm, level, last }) {
    this.onLevel(level);
    if (pcm.byteLength && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(pcm);
      this.frames.push(new Int16Array(pcm));
    }
    if (last && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ is_final: true }));
    }
  }

  /** Stop the microphone; the last frame goes out, then `is_final`: the gateway answers with `done`. */
  stop() {
    this.source?.disconnect();
    for (const track of this.microphone?.getTracks() || []) track.stop();
    this.capture?.port.postMessage("stop");
  }

  closed(close) {
    this.release();
    this.onEnd(close);
  }

  release() {
    for (const track of this.microphone?.getTracks() || []) track.stop();
    if (this.context && this.context.state !== "closed") this.context.close();
  }

  /** What was recorded, as a 16-bit mono WAV file (for questions about it). */
  wav() {
    const samples = this.frames.reduce((total, frame) => total + frame.length, 0);
    const header = new DataView(new ArrayBuffer(44));
    const text = (offset, value) => [...value].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
    text(0, "RIFF");
    header.setUint32(4, 36 + samples * 2, true);
    text(8, "WAVE");
    text(12, "fmt ");
    header.setUint32(16, 16, true); // the fmt chunk's size
    header.setUint16(20, 1, true); // PCM
    header.setUint16(22, 1, true); // mono
    header.setUint32(24, this.sampleRate, true);
    header.setUint32(28, this.sampleRate * 2, true); // bytes per second
    header.setUint16(32, 2, true); // bytes per sample frame
    header.setUint16(34, 16, true); // bits per sample
    text(36, "data");
    header.setUint32(40, samples * 2, true);
    return new Blob([header, ...this.frames], { type: "audio/wav" });
  }
}

const live = { session: null, recording: null, segments: new Map() };

function liveSegment(segmentId) {
  let span = live.segments.get(segmentId);
  if (!span) {
    span = document.createElement("span");
    span.dataset.segment = segmentId;
    span.dataset.partials = "0";
    // Finals come in segment order, but a partial of the next utterance can come before them.
    const later = [...live.segments.entries()].filter(([id]) => id > segmentId).sort(([a], [b]) => a - b);
    $("#live").insertBefore(span, later.length ? later[0][1] : null);
    live.segments.set(segmentId, span);
  }
  return span;
}

function onLiveMessage(message) {
  const status = $("#mic-status");
  switch (message.type) {
    case "partial": {
      const span = liveSegment(message.segment_id);
      if (span.classList.contains("final")) return;
      span.className = "partial";
      span.dataset.partials = String(Number(span.dataset.partials) + 1);
      span.textContent = `${message.text.trim()} `;
      break;
    }
    case "final": {
      const span = liveSegment(message.segment_id);
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
        (lost ? `; lost: chunks ${message.missing_chunk_ids.join(", ") || "none"}, ` +
          `segments ${message.failed_segment_ids.join(", ") || "none"}.` : ".");
      $("#mic-done").hidden = false;
      status.textContent = "Done.";
      break;
    }
    case "error":
      if (message.severity === "warning") status.textContent = `Warning: ${message.code}: ${message.message}`;
      else showError($("#mic-error"), new ApiError({ closeCode: message.close_code, ...message }));
      break;
  }
}

async function startRecording() {
  const record = $("#record");
  const stop = $("#stop");
  const status = $("#mic-status");
  clearError($("#mic-error"));
  $("#live").replaceChildren();
  $("#mic-done").hidden = true;
  live.segments.clear();
  record.disabled = true;
  status.textContent = "Starting the microphone…";
  const session = new LiveSession({
    onMessage: onLiveMessage,
    onLevel: (level) => {
      $("#level").value = Math.min(1, level * 4); // speech RMS is mostly below 0.25
    },
    onEnd: (close) => {
      $("#level").value = 0;
      record.disabled = false;
      stop.disabled = true;
      if (close.code !== 1000 && $("#mic-error").hidden) {
        showError($("#mic-error"), new ApiError({ closeCode: close.code, code: "closed", message: close.reason || "the stream ended" }));
      }
      live.recording = session.frames.length ? session : live.recording;
      updateQuestionSources();
      stop.blur();
      record.focus();
    },
  });
  live.session = session;
  try {
    const ready = await session.start();
    status.textContent = `Recording (${ready.backend}, ${ready.model}). Speak, then press Stop.`;
    stop.disabled = false;
    stop.focus();
  } catch (error) {
    session.release();
    record.disabled = false;
    status.textContent = "Not recording.";
    showError($("#mic-error"), error);
  }
}

function stopRecording() {
  $("#stop").disabled = true;
  $("#mic-status").textContent = "Finishing: the last words are being transcribed…";
  live.session?.stop();
}

function setUpMicrophone() {
  $("#record").addEventListener("click", startRecording);
  $("#stop").addEventListener("click", stopRecording);
  if (!navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) {
    $("#record").disabled = true;
    $("#mic-status").textContent =
      "This browser cannot record here: the microphone needs a secure page (https:// or localhost).";
  }
}

// ---------------------------------------------------------------------------------------------- questions

function disableQuestions(reason) {
  const notice = $("#ask-unavailable");
  notice.textContent = reason;
  notice.hidden = false;
  const fields = $("#ask-fields");
  fields.disabled = true;
  fields.setAttribute("aria-describedby", "ask-unavailable");
}

function updateQuestionSources() {
  const fileChoice = $("#ask-source-file");
  const recordingChoice = $("#ask-source-recording");
  fileChoice.disabled = !upload.file;
  recordingChoice.disabled = !live.recording;
  if (!document.querySelector("input[name=ask-source]:checked:not(:disabled)")) {
    const first = [fileChoice, recordingChoice].find((choice) => !choice.disabled);
    if (first) first.checked = true;
  }
}

function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1)); // after "data:…;base64,"
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** The events of a server-sent event stream, as {event, data} objects. */
async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event.event = line.slice(6).trim();
        else if (line.startsWith("data:")) event.data += line.slice(5).trim();
      }
      yield event;
    }
  }
}

async function askQuestion() {
  const status = $("#ask-status");
  const errorBox = $("#ask-error");
  const answer = $("#answer");
  const choice = document.querySelector("input[name=ask-source]:checked");
  clearError(errorBox);
  const audio = choice?.value === "recording" ? live.recording?.wav() : choice?.value === "file" ? upload.file : null;
  if (!audio) {
    showError(errorBox, new Error("Upload a file or record something first."));
    return;
  }
  $("#ask").disabled = true;
  status.textContent = "Asking…";
  answer.textContent = "";
  $("#answer-summary").textContent = "";
  $("#ask-result").hidden = false;
  try {
    const response = await callApi("/understand/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        audio_files: [{ data: await base64Of(audio) }],
        question: $("#question").value,
        stream: true,
      }),
    });
    for await (const { event, data } of serverSentEvents(response)) {
      const payload = JSON.parse(data);
      if (event === "delta") {
        answer.textContent += payload.text;
      } else if (event === "done") {
        answer.textContent = payload.answer;
        $("#answer-summary").textContent =
          `${payload.model} · ${payload.finish_reason} · ${milliseconds(payload.processing_time_ms)}`;
      } else if (event === "error") {
        throw new ApiError({ status: response.status, ...payload.error });
      }
    }
    status.textContent = "Answered.";
  } catch (error) {
    status.textContent = "No answer.";
    showError(errorBox, error);
  } finally {
    $("#ask").disabled = false;
  }
}

function setUpQuestions() {
  $("#ask").addEventListener("click", askQuestion);
}

// ---------------------------------------------------------------------------------------------- start

setUpSettings();
setUpFile();
setUpMicrophone();
setUpQuestions();
checkBackend();
