"""The playground page (GET /playground) in a real headless Chromium, against running gateways.

Chromium's fake microphone plays the speech fixture, so "Record" streams real speech over the WebSocket.
Every state is saved as a screenshot in PLAYGROUND_ARTIFACTS (else a pytest temp folder, printed).
Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them; skipped without them) and
`selenium` (the test extra)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.audio_fixtures import FixtureSet, SpeechClip, normalize_text
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn
from voxtral_gateway.auth import ApiKeyFile, ApiKeyRecord, hash_key, new_key, write_keys_file
from voxtral_gateway.routes.playground import PLAYGROUND_FILES

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

# The words of the last utterance must be on the page this long after the speech ends: the stream's
# silence detection (STREAM_SILENCE_SECONDS) plus one embedded transcription on a busy CI machine.
LIVE_WORDS_SLACK_SECONDS = 6.0
PHONE_WIDTH = 390
DESKTOP_SIZE = (1200, 900)
SRT_BLOCK = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})\n(.+?)(?:\n\n|\n?$)", re.S)


# Every visible text (disabled controls are exempt, as in WCAG) against the first opaque background behind
# it: [element, ratio] for each below 4.5:1.
CONTRAST_CHECK = """
const rgb = (value) => value.match(/[\\d.]+/g).map(Number);
const luminance = ([r, g, b]) => {
  const linear = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
};
const background = (element) => {
  for (let node = element; node; node = node.parentElement) {
    const color = rgb(getComputedStyle(node).backgroundColor);
    if (color.length < 4 || color[3] === 1) return color;
  }
  return [255, 255, 255];
};
const failures = [];
for (const element of document.querySelectorAll("body *")) {
  const ownText = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!ownText || !element.checkVisibility() || element.closest(":disabled")) continue;
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background(element))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) failures.push([element.id || element.className || element.tagName, ratio.toFixed(2)]);
}
return failures;
"""


# Drop a text file (arguments: the drop zone, its name, its text) as a user dragging it onto the zone.
DROP_FILE = """
const [zone, name, text] = arguments;
const transfer = new DataTransfer();
transfer.items.add(new File([text], name, { type: "text/plain" }));
for (const type of ["dragover", "drop"]) {
  zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
}
"""


@dataclass
class Browser:
    driver: WebDriver
    downloads: Path
    artifacts: Path

    def open(self, gateway: GatewayProcess) -> None:
        self.driver.set_window_size(*DESKTOP_SIZE)
        self.driver.get(f"{gateway.base_url}/playground")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.refresh()
        self.wait_for(lambda: "Backend:" in self.find("#backend-status").text, "the backend status")

    def find(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def find_all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda _: condition())
        except Exception as exc:
            self.screenshot("failure")
            raise AssertionError(f"timed out waiting for {what}; page text:\n{self.text('body')}") from exc

    def text(self, selector: str) -> str:
        return self.find(selector).get_attribute("textContent") or ""

    def set_key(self, key: str) -> None:
        field = self.find("#api-key")
        field.clear()
        if key:
            field.send_keys(key)

    def upload(self, path: Path) -> None:
        self.find("#audio-file").send_keys(str(path))

    def screenshot(self, name: str) -> Path:
        """The whole page (the window grows to its height), saved as `<name>.png` in the artifacts."""
        width = self.driver.get_window_size()["width"]
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, max(height + 140, 400))  # + the window's own frame
        path = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("PLAYGROUND_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("playground-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"playground screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def speech(audio_fixtures: FixtureSet) -> SpeechClip:
    return audio_fixtures.speech("wav", 16000, 1)


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    """Debian's chromium and its driver; the browser tests are skipped (saying why) without them."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="module")
def browser(
    chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory, artifacts: Path, speech: SpeechClip
) -> Iterator[Browser]:
    """Headless Chromium whose microphone plays the speech clip once (then silence)."""
    downloads = tmp_path_factory.mktemp("playground-downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={speech.path}%noloop",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=Service(chromium[1]))
    try:
        yield Browser(driver=driver, downloads=downloads, artifacts=artifacts)
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def api_key() -> str:
    return new_key()


@pytest.fixture(scope="module")
def keyed_gateway(
    standin: ThreadedStandIn, api_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """A gateway on the stand-in vLLM (it answers questions) that needs an API key."""
    keys_file = tmp_path_factory.mktemp("playground-keys") / "api_keys.json"
    record = ApiKeyRecord(
        id="key_playground",
        name="playground",
        sha256=hash_key(api_key),
        created_at="2026-01-01T00:00:00+00:00",
    )
    write_keys_file(keys_file, ApiKeyFile(keys=[record]))
    env = {**standin.gateway_env(), "API_KEYS_FILE": str(keys_file), "RATE_LIMIT_ENABLED": "false"}
    with GatewayProcess(env=env) as gateway:
        yield gateway


def _words(text: str) -> str:
    return normalize_text(text)


def test_the_page_and_its_files_are_served_with_a_strict_policy(embedded_gateway: GatewayProcess) -> None:
    page = httpx.get(f"{embedded_gateway.base_url}/playground")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert {"playground.js", "pcm-capture.js", "playground.css"} <= PLAYGROUND_FILES.keys()
    for name, media_type in PLAYGROUND_FILES.items():
        asset = httpx.get(f"{embedded_gateway.base_url}/playground/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"] == f"{media_type}; charset=utf-8"
    for name in ("__init__.py", "..%2Fapp.py", "missing.js"):
        assert httpx.get(f"{embedded_gateway.base_url}/playground/{name}").status_code == 404
    schema = httpx.get(f"{embedded_gateway.base_url}/docs/openapi.json").json()
    assert "(/playground)" in schema["info"]["description"]


def test_a_file_shows_its_words_times_and_server_timing_and_the_srt_download_parses(
    browser: Browser, embedded_gateway: GatewayProcess, speech: SpeechClip
) -> None:
    browser.open(embedded_gateway)
    browser.upload(speech.path)
    browser.wait_for(lambda: browser.find("#file-result").is_displayed(), "the transcription")
    segments = browser.find_all("#segments tbody tr")
    assert segments
    cells = [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")] for row in segments]
    assert _words(" ".join(text for _, _, text in cells)) == _words(speech.text)
    assert all(re.fullmatch(r"\d+:\d\d\.\d\d", time) for start, end, _ in cells for time in (start, end))
    assert browser.text("#file-language") == "english"  # verbose_json names it as OpenAI does
    timing = browser.text("#file-timing")
    assert "decode" in timing and "upstream" in timing, timing
    assert browser.text("#file-processing").endswith(("ms", " s"))
    browser.screenshot("file")

    browser.find("button.download[data-format='srt']").click()
    srt_path = browser.downloads / f"{speech.path.stem}.srt"
    browser.wait_for(srt_path.exists, "the SRT download")
    blocks = SRT_BLOCK.findall(srt_path.read_text().strip() + "\n")
    assert [int(index) for index, *_ in blocks] == list(range(1, len(blocks) + 1))
    assert _words(" ".join(text for *_, text in blocks)) == _words(speech.text)


def test_the_microphone_streams_live_words_partials_first_then_the_whole_transcript(
    browser: Browser, embedded_gateway: GatewayProcess, speech: SpeechClip
) -> None:
    browser.open(embedded_gateway)
    browser.find("#record").click()
    started = time.monotonic()
    browser.wait_for(lambda: "Recording" in browser.text("#mic-status"), "the recording to start", 20)
    level = browser.find("#level")
    browser.wait_for(lambda: float(level.get_property("value")) > 0.1, "the level meter to move", 5)
    last_word = _words(speech.text).split()[-1]
    browser.wait_for(
        lambda: last_word in _words(" ".join(s.text for s in browser.find_all("#live .final"))),
        "the last words as a final",
        speech.speech_end + LIVE_WORDS_SLACK_SECONDS,
    )
    after_speech = time.monotonic() - started - speech.speech_end
    finals = browser.find_all("#live .final")
    assert _words(" ".join(final.text for final in finals)) == _words(speech.text)
    # Each final replaced the partials shown for its utterance before it.
    assert sum(int(final.get_attribute("data-partials")) for final in finals) >= 1
    assert not browser.find_all("#live .partial")
    browser.screenshot("microphone-live")

    browser.find("#stop").click()
    browser.wait_for(lambda: browser.find("#mic-done").is_displayed(), "the whole transcript")
    assert _words(browser.text("#mic-transcript")) == _words(speech.text)
    assert re.fullmatch(
        rf"\d+\.\d\d s of audio, {len(finals)} segment\(s\), language en\.", browser.text("#mic-summary")
    )
    assert browser.find("#mic-error").is_displayed() is False
    assert browser.driver.switch_to.active_element == browser.find("#record")
    assert after_speech < LIVE_WORDS_SLACK_SECONDS
    browser.screenshot("microphone-done")


def test_on_the_embedded_engine_questions_are_disabled_and_say_why(
    browser: Browser, embedded_gateway: GatewayProcess
) -> None:
    browser.open(embedded_gateway)
    browser.wait_for(lambda: browser.find("#ask-unavailable").is_displayed(), "the reason")
    reason = browser.text("#ask-unavailable")
    model = httpx.get(f"{embedded_gateway.base_url}/health/").json()["backend"]["model"]
    assert "embedded engine" in reason and model in reason and "vLLM" in reason
    assert not browser.find("#ask-fields").is_enabled() or not browser.find("#ask").is_enabled()
    assert browser.find("#ask-fields").get_attribute("aria-describedby") == "ask-unavailable"
    browser.screenshot("questions-disabled")


def test_a_non_audio_file_shows_the_415_message(
    browser: Browser, embedded_gateway: GatewayProcess, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.mp3"
    notes.write_text("These are meeting notes, not audio.\n" * 20)
    browser.open(embedded_gateway)
    browser.upload(notes)
    browser.wait_for(lambda: browser.find("#file-error").is_displayed(), "the error")
    error = httpx.post(
        f"{embedded_gateway.base_url}/v1/audio/transcriptions",
        files={"file": ("notes.mp3", notes.read_bytes())},
        data={"model": "whisper-1", "response_format": "verbose_json"},
    )
    assert error.status_code == 415
    shown = browser.text("#file-error")
    assert shown.startswith("HTTP 415 · ")
    assert error.json()["error"]["message"] in shown
    browser.screenshot("error-415")

    # The same refusal for a file dropped on the drop zone.
    browser.driver.execute_script(DROP_FILE, browser.find("#drop-zone"), "dropped.txt", notes.read_text())
    browser.wait_for(
        lambda: "dropped.txt: failed" in browser.text("#file-status"), "the dropped file's error"
    )
    request_id = re.compile(r" \(request [^)]+\)$")
    assert request_id.sub("", browser.text("#file-error")) == request_id.sub("", shown)


def test_with_keys_a_missing_key_shows_401_and_an_unknown_one_403_over_http_and_websocket(
    browser: Browser, keyed_gateway: GatewayProcess, speech: SpeechClip
) -> None:
    # The page itself, like /docs, needs no key: its API calls carry the one entered.
    assert httpx.get(f"{keyed_gateway.base_url}/playground").status_code == 200
    assert httpx.get(f"{keyed_gateway.base_url}/playground/playground.js").status_code == 200
    browser.open(keyed_gateway)
    browser.upload(speech.path)
    browser.wait_for(lambda: browser.find("#file-error").is_displayed(), "the 401")
    assert browser.text("#file-error").startswith("HTTP 401 · unauthorized: this route needs an API key")
    browser.screenshot("error-401")

    browser.set_key("vxg_not-a-key")
    browser.upload(speech.path)
    browser.wait_for(lambda: "HTTP 403" in browser.text("#file-error"), "the 403")
    assert "forbidden: the API key is unknown or disabled" in browser.text("#file-error")

    browser.find("#record").click()
    browser.wait_for(lambda: browser.find("#mic-error").is_displayed(), "the refused stream")
    assert browser.text("#mic-error").startswith("WebSocket close 4403 · forbidden: the API key is unknown")
    assert browser.find("#record").is_enabled()


def test_with_a_key_a_question_about_the_uploaded_file_is_answered(
    browser: Browser, keyed_gateway: GatewayProcess, api_key: str, speech: SpeechClip
) -> None:
    browser.open(keyed_gateway)
    browser.set_key(api_key)
    browser.driver.refresh()  # the key survives a reload of the tab (sessionStorage)
    browser.wait_for(lambda: browser.find("#api-key").get_attribute("value") == api_key, "the stored key")
    assert not browser.find("#ask-unavailable").is_displayed()
    browser.upload(speech.path)
    browser.wait_for(lambda: browser.find("#file-result").is_displayed(), "the transcription")
    question = browser.find("#question")
    question.clear()
    question.send_keys("What will the weather be like?")
    browser.find("#ask").click()
    # The stand-in answers with what it received: one audio of the clip's length, and the question.
    browser.wait_for(lambda: "Answered" in browser.text("#ask-status"), "the answer")
    answer = browser.text("#answer")
    assert answer.startswith("1 audio(s) totalling")
    assert answer.endswith("question: What will the weather be like?")
    assert "stop" in browser.text("#answer-summary")
    browser.screenshot("question-answered")


def test_at_phone_width_nothing_overflows_and_every_control_is_labelled(
    browser: Browser, embedded_gateway: GatewayProcess
) -> None:
    browser.open(embedded_gateway)
    browser.driver.set_window_size(PHONE_WIDTH, 844)
    overflow = browser.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    unlabelled = browser.driver.execute_script(
        """return [...document.querySelectorAll('input, select, textarea, button, meter')]
             .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
             .map((el) => el.id || el.outerHTML)"""
    )
    assert unlabelled == []
    low_contrast = browser.driver.execute_script(CONTRAST_CHECK)
    assert low_contrast == []
    # Keyboard: Tab goes from the skip link through the settings to the file picker, in order.
    body = browser.find("body")
    focused = []
    for _ in range(5):
        body.send_keys("\ue004")  # Tab
        focused.append(browser.driver.switch_to.active_element.get_attribute("id") or "")
        body = browser.driver.switch_to.active_element
    assert focused[:4] == ["", "", "api-key", "language"], focused
    browser.screenshot("phone")


def test_with_a_key_the_recording_streams_and_a_question_about_it_is_answered(
    browser: Browser, keyed_gateway: GatewayProcess, api_key: str
) -> None:
    browser.open(keyed_gateway)
    browser.set_key(api_key)  # sent as ?api_key= on the WebSocket
    browser.find("#record").click()
    browser.wait_for(lambda: browser.find_all("#live .final"), "a final from the stand-in")
    browser.find("#stop").click()
    browser.wait_for(lambda: browser.find("#mic-done").is_displayed(), "the whole transcript")
    recorded = float(browser.text("#mic-summary").split(" s of audio")[0])
    assert browser.find("#ask-source-recording").is_selected()
    browser.find("#ask").click()
    browser.wait_for(lambda: "Answered" in browser.text("#ask-status"), "the answer")
    # The page sends the recording as a WAV file: the stand-in heard as much audio as the stream carried.
    heard = float(re.match(r"1 audio\(s\) totalling ([\d.]+) seconds", browser.text("#answer")).group(1))
    assert heard == pytest.approx(recorded, abs=0.25)
    browser.screenshot("question-about-the-recording")
