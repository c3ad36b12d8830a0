// One recording: the microphone → an AudioWorklet (16-bit PCM) → binary frames on WS /stream/transcribe,
// after a `start` message. Stop sends the last frame and `{"is_final": true}`; the gateway answers with
// the last finals and `done`, then closes (1000).

import { ApiError, socketUrl } from "./api.js";

const STREAM_PATH = "/stream/transcribe";
const SAMPLE_RATE = 16000; // the models' own rate: the browser resamples the microphone to it
const FRAME_SECONDS = 0.1;

export class LiveSession {
  /**
   * @param {object} handlers
   * @param {(message: object) => void} handlers.onMessage  each message after `ready` (partial, final, done, error)
   * @param {(level: number) => void} handlers.onLevel  the input's RMS level (0–1), every frame
   * @param {(close: CloseEvent) => void} handlers.onEnd  the socket closed, the microphone is released
   */
  constructor({ onMessage, onLevel, onEnd }) {
    this.onMessage = onMessage;
    this.onLevel = onLevel;
    this.onEnd = onEnd;
    this.frames = []; // the PCM sent, kept to ask questions about the recording
    this.sampleRate = SAMPLE_RATE;
  }

  /** Start recording and streaming; resolves with the gateway's `ready` message, rejects with an
   * ApiError when the stream is refused (API key, limits). `language` may be "" (detect it). */
  async start(key, language) {
    this.microphone = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    this.context = new AudioContext({ sampleRate: SAMPLE_RATE });
    await this.context.resume(); // a context made after the permission prompt may start suspended
    this.sampleRate = this.context.sampleRate;
    await this.context.audioWorklet.addModule("/playground/pcm-capture.js");
    const ready = await this.open(key);
    this.socket.send(
      JSON.stringify({
        type: "start",
        format: "pcm_s16le",
        sample_rate: this.sampleRate,
        ...(language ? { language } : {}),
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
  open(key) {
    this.socket = new WebSocket(socketUrl(STREAM_PATH, key));
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

  /** Stop the microphone; the last frame goes out, then `is_final`. */
  stop() {
    this.source?.disconnect();
    for (const track of this.microphone?.getTracks() || []) track.stop();
    this.capture?.port.postMessage("stop");
  }

  closed(close) {
    this.release();
    this.onEnd(close);
  }

  /** Let go of the microphone and the audio context (also when the stream was refused). */
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
