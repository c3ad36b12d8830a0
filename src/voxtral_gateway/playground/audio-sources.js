// The audio a question can be about: the last file transcribed and the last recording (a WAV Blob).
// Setting one announces it with an `audio-sources-changed` event on the document (detail: its kind).

export const audioSources = { file: null, recording: null };

/** @param {"file" | "recording"} kind */
export function setAudioSource(kind, blob) {
  audioSources[kind] = blob;
  document.dispatchEvent(new CustomEvent("audio-sources-changed", { detail: { kind } }));
}
