// The page's shared pieces: element lookup, the settings fields, errors and number formats for display.

import { ApiError } from "./api.js";

const KEY_STORAGE = "voxtral-gateway.api-key";

export const $ = (selector) => document.querySelector(selector);

/** The API key field, kept in this tab's sessionStorage (gone when the tab closes). */
export function setUpApiKey() {
  const field = $("#api-key");
  field.value = sessionStorage.getItem(KEY_STORAGE) || "";
  field.addEventListener("input", () => {
    if (field.value.trim()) sessionStorage.setItem(KEY_STORAGE, field.value.trim());
    else sessionStorage.removeItem(KEY_STORAGE);
  });
}

export function apiKey() {
  return $("#api-key").value.trim();
}

/** The language chosen, or "" to let the model detect it. */
export function language() {
  return $("#language").value;
}

/** Show an error in its box: an ApiError with the API's own status (or close code), code and message. */
export function showError(box, error) {
  box.replaceChildren();
  if (error instanceof ApiError) {
    const where =
      error.status !== null ? `HTTP ${error.status}` : error.closeCode !== null ? `WebSocket close ${error.closeCode}` : "Stream";
    const code = document.createElement("code");
    code.textContent = error.code;
    box.append(`${where} · `, code, `: ${error.message}`);
    if (error.requestId) box.append(` (request ${error.requestId})`);
  } else {
    box.append(error.message || String(error));
  }
  box.hidden = false;
}

export function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

/** 64.5 → "1:04.50" */
export function minutesAndSeconds(value) {
  const minutes = Math.floor(value / 60);
  return `${minutes}:${(value - minutes * 60).toFixed(2).padStart(5, "0")}`;
}

export function duration(milliseconds) {
  return milliseconds >= 1000 ? `${(milliseconds / 1000).toFixed(2)} s` : `${milliseconds.toFixed(1)} ms`;
}

export function fileSize(bytes) {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} kB`;
}
