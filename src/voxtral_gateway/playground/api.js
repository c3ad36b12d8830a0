// The gateway's API as the page uses it: requests with the API key, its errors, Server-Timing and
// server-sent events.

/** An error answered by the gateway: its HTTP status (or WebSocket close code), code and message. */
export class ApiError extends Error {
  constructor({ status = null, closeCode = null, code, message, requestId = null }) {
    super(message);
    this.status = status;
    this.closeCode = closeCode;
    this.code = code;
    this.requestId = requestId;
  }
}

/** fetch() with the key as `Authorization: Bearer`; a non-2xx answer throws an ApiError. */
export async function callApi(path, key, options = {}) {
  const auth = key ? { Authorization: `Bearer ${key}` } : {};
  const response = await fetch(path, { ...options, headers: { ...auth, ...options.headers } });
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
export function parseServerTiming(header) {
  const metrics = {};
  for (const entry of (header || "").split(",")) {
    const [name, ...params] = entry.split(";").map((part) => part.trim());
    const value = params.find((param) => param.startsWith("dur="));
    if (name && value) metrics[name] = Number(value.slice(4));
  }
  return metrics;
}

/** The events of a server-sent event stream, as {event, data} objects. */
export async function* serverSentEvents(response) {
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

/** The WebSocket URL of `path` on this origin, with the key as `?api_key=` (a browser cannot set headers
 * on a WebSocket). */
export function socketUrl(path, key) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}${key ? `?api_key=${encodeURIComponent(key)}` : ""}`;
}
