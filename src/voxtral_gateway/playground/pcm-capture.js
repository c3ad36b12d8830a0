// An AudioWorklet processor: the microphone's first channel as 16-bit little-endian PCM, posted to the
// page in frames of `frameSamples` samples (100 ms at 16 kHz by default), each with its RMS level (0–1).

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.frameSamples = options.processorOptions.frameSamples;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.sumOfSquares = 0;
    // "stop": post what is left, marked as the last frame.
    this.port.onmessage = (event) => {
      if (event.data === "stop") this.flush(true);
    };
  }

  process(inputs) {
    const channel = inputs[0][0];
    if (!channel) return true; // no input connected yet
    for (let i = 0; i < channel.length; i++) {
      const sample = Math.max(-1, Math.min(1, channel[i]));
      this.sumOfSquares += sample * sample;
      this.frame[this.filled++] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
      if (this.filled === this.frameSamples) this.flush(false);
    }
    return true;
  }

  // Post what is buffered (Int16Array is little-endian on every platform browsers run on).
  flush(last) {
    const pcm = this.frame.slice(0, this.filled).buffer;
    const level = this.filled ? Math.sqrt(this.sumOfSquares / this.filled) : 0;
    this.port.postMessage({ pcm, level, last }, [pcm]);
    this.filled = 0;
    this.sumOfSquares = 0;
  }
}

registerProcessor("pcm-capture", PcmCapture);
