// "Ask about the audio": POST /understand/ with "stream": true, about the uploaded file or the recording;
// the answer grows as the `delta` events arrive. Disabled, saying why, when the backend cannot answer.

import { ApiError, callApi, serverSentEvents } from "./api.js";
import { audioSources } from "./audio-sources.js";
import { $, apiKey, clearError, duration, showError } from "./page.js";

/** Disable the questions and say why (the reason is read by screen readers with the controls). */
export function disableQuestions(reason) {
  const notice = $("#ask-unavailable");
  notice.textContent = reason;
  notice.hidden = false;
  const fields = $("#ask-fields");
  fields.disabled = true;
  fields.setAttribute("aria-describedby", "ask-unavailable");
}

/** Offer the sources that exist; the newest one is selected. */
function updateSources(newest) {
  const choices = { file: $("#ask-source-file"), recording: $("#ask-source-recording") };
  for (const [kind, choice] of Object.entries(choices)) choice.disabled = !audioSources[kind];
  if (newest) choices[newest].checked = true;
}

function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1)); // after "data:…;base64,"
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function ask() {
  const status = $("#ask-status");
  const errorBox = $("#ask-error");
  const answer = $("#answer");
  const choice = document.querySelector("input[name=ask-source]:checked:not(:disabled)");
  clearError(errorBox);
  const audio = choice ? audioSources[choice.value] : null;
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
    const response = await callApi("/understand/", apiKey(), {
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
          `${payload.model} · ${payload.finish_reason} · ${duration(payload.processing_time_ms)}`;
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

export function setUpQuestionsPanel() {
  $("#ask").addEventListener("click", ask);
  document.addEventListener("audio-sources-changed", (event) => updateSources(event.detail.kind));
}
