"""The real rater page in Debian chromium (Playwright, never `playwright install`): a full session with slider
drags and switching, a sample-accurate check that switching keeps the playback position, and screenshots."""

from __future__ import annotations

import io
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from harness.webtest import create_app
from harness.ratings.models import Rating, Session, Trial
from tests.webtest._study import build_study
from tests.webtest.conftest import LiveServer, make_config

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]
SR = 16000

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser"),
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def served(tmp_path):
    study = build_study(tmp_path / "study", sr=SR, seconds=2.0,
                        rater={"trials_per_rater": 2, "training_items": 1})
    app = create_app(make_config(study, f"sqlite:///{tmp_path / 'ratings.sqlite'}"))
    # test-only route: an AudioWorklet tap served from 'self' (the page's CSP forbids eval, blob: and data:)
    app.add_url_rule("/_test/tap.js", "test_tap", lambda: (TAP_WORKLET, 200, {"Content-Type": "text/javascript"}))
    srv = LiveServer(app)
    yield app, srv
    srv.close()
    app.extensions["mushra"]["db"].dispose()


def _calibrate(page):
    """The volume-calibration step before the first rated page: play, then continue."""
    page.wait_for_selector("#calibration:not([hidden])")
    page.wait_for_selector("#cal-play:not([disabled])")
    assert page.is_disabled("#cal-ok")  # continue only after the calibration sound was played
    page.click("#cal-play")
    page.click("#cal-ok")


def _wait_trial(page, kind_title: str):
    page.wait_for_selector("#trial:not([hidden])")
    page.wait_for_selector(f"#trial-title:text-is('{kind_title}')")  # (wait_for_function would need eval: CSP)
    page.wait_for_selector("#loading", state="hidden")


def _wait_step_change(page, trial: int, timeout_s: float = 20.0) -> None:
    """Poll until the page moved past ``trial`` (page.wait_for_function would need eval, which the CSP forbids)."""
    import time

    deadline = time.monotonic() + timeout_s
    while page.evaluate("window.mushra.step && window.mushra.step.trial") == trial:
        assert time.monotonic() < deadline, f"the page did not move past trial {trial}"
        page.wait_for_timeout(50)


def _drag_slider(page, index: int, frac: float) -> None:
    box = page.locator("#rows input.slider").nth(index).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * frac, y, steps=4)
    page.mouse.up()


TAP_WORKLET = """
class Tap extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.port.postMessage([currentFrame, ch.slice()]);
    return true;
  }
}
registerProcessor('tap', Tap);
"""

# records the player's output on the audio thread, frame-exact (AudioWorklet currentFrame), around a switch
CAPTURE_JS = """async ([firstKey, secondKey]) => {
  const p = window.mushra.player, ctx = p.ctx;
  await ctx.audioWorklet.addModule('/_test/tap.js');
  const node = new AudioWorkletNode(ctx, 'tap'), quanta = [];
  node.port.onmessage = (e) => quanta.push([e.data[0], Array.from(e.data[1])]);
  p.output.connect(node); node.connect(ctx.destination);
  const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
  key(firstKey);
  await new Promise((r) => setTimeout(r, 600));
  key(secondKey);
  const switchEnd = p.busyUntil;
  await new Promise((r) => setTimeout(r, 600));
  p.output.disconnect(node);
  await new Promise((r) => setTimeout(r, 300));  // let queued quanta messages arrive
  node.disconnect();
  return {quanta, switchEnd, t0: p.t0, rate: ctx.sampleRate, state: ctx.state, active: p.active};
}"""


def _fetch(url: str) -> np.ndarray:
    data = urllib.request.urlopen(url).read()
    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert sr == SR
    return x[:, 0]


def _check_switch_keeps_position(cap: dict, ref: np.ndarray, second: np.ndarray) -> None:
    """The captured output must be the reference, then (after the 5 ms fade-out + 5 ms fade-in) sound 2, both
    at the same loop position: y[f] == x[(f - offset) % N] with ONE offset for the whole capture."""
    frames = {int(f): np.asarray(q, dtype=np.float32) for f, q in cap["quanta"]}
    f0, f1 = min(frames), max(frames) + 128
    y = np.full(f1 - f0, np.nan, dtype=np.float32)
    for f, q in frames.items():
        y[f - f0:f - f0 + len(q)] = q
    n = len(ref)
    assert len(second) == n
    # playback begins at t0, or at the next render quantum if the start message reached the audio thread late
    first = int(np.flatnonzero(np.nan_to_num(np.abs(y), nan=0.0) > 0)[0])
    assert first >= int(round(cap["t0"] * SR)) - f0 - 1
    start = first + int(0.006 * SR)  # after the first 5 ms fade-in
    assert not np.isnan(y[start:]).any(), "the capture has gaps"  # (before the sources start: no input)
    sw_end = int(round(cap["switchEnd"] * SR)) - f0
    sw_start = sw_end - int(0.010 * SR) - 2
    assert 0 <= start < sw_start - 2048 and sw_end + 2048 < len(y), "capture window misses the switch"
    window = y[start:start + 2048]
    pos, err = _loop_offset(window, ref)
    assert err < 1e-4, "output before the switch is not the reference at unity gain"
    offset = (start + f0 - pos) % n
    idx = (np.arange(len(y)) + f0 - offset) % n
    before = np.abs(y[start:sw_start] - ref[idx[start:sw_start]])
    after = np.abs(y[sw_end + 1:] - second[idx[sw_end + 1:]])
    assert before.max() < 1e-4, f"reference lost its position before the switch (max err {before.max():.3g})"
    assert after.max() < 1e-4, f"sound 2 does not continue at the reference's position (max err {after.max():.3g})"
    assert len(after) > SR // 4 and np.abs(y[sw_end + 1:]).max() > 0.05  # it really played
    # never a cross-fade: 5 ms in which only the reference sounds, fading out, then 5 ms of sound 2 fading in
    fade = int(0.005 * SR)
    for sig, a, b, direction in ((ref, sw_end - 2 * fade, sw_end - fade, -1), (second, sw_end - fade, sw_end, 1)):
        x = sig[idx[a:b]]
        # samples loud enough for a ratio (relative to this 5 ms window: the switch can land in a quiet stretch of
        # the stimulus, where a fixed 0.05 threshold left nothing to check); float32 keeps the ratio exact here
        ok = np.abs(x) > max(1e-3, 0.25 * float(np.abs(x).max()))
        if ok.sum() < 8:
            continue  # (near-)silent window: no gain to measure; the position checks above still hold
        gain = y[a:b][ok] / x[ok]  # the output is this one signal times a gain in [0, 1]...
        assert gain.min() > -0.02 and gain.max() < 1.02, f"cross-fade or overshoot: gains {gain.round(3)}"
        steps_ = np.diff(gain) * direction
        assert steps_.min() > -0.02, f"fade is not monotonic: {gain.round(3)}"  # ...falling, then rising


def _loop_offset(block: np.ndarray, signal: np.ndarray) -> tuple[int, float]:
    """Where in the (looped) ``signal`` the captured ``block`` starts (least squares), and the worst error there."""
    tiled = np.concatenate([signal, signal[: len(block)]]).astype(np.float64)
    b = block.astype(np.float64)
    energy = np.convolve(tiled ** 2, np.ones(len(b)), mode="valid")
    ssd = energy - 2 * np.correlate(tiled, b, mode="valid") + np.dot(b, b)
    pos = int(np.argmin(ssd[: len(signal)]))
    return pos, float(np.max(np.abs(tiled[pos:pos + len(b)] - b)))


def test_full_session_through_the_page(browser, served, tmp_path):
    app, srv = served
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(srv.url + "/?PROLIFIC_PID=browser-rater&STUDY_ID=st1&SESSION_ID=se1")
    page.wait_for_selector("#consent:not([hidden])")
    assert page.is_disabled("#start")
    page.check("#consent-ok")
    page.click("#start")
    _calibrate(page)

    _wait_trial(page, "Training")
    info = page.evaluate("({rate: window.mushra.player.ctx.sampleRate, n: window.mushra.step.stimuli.length})")
    assert info["rate"] == SR  # the AudioContext runs at the stimuli's rate
    for k in range(info["n"]):
        page.click(f"#rows button.play >> nth={k}")
        assert "played" in page.get_attribute(f"#rows button.play >> nth={k}", "class")  # marked as played
    page.click("#ref")
    page.wait_for_selector("#next:not([disabled])")
    page.click("#next")

    for trial_no in range(2):
        _wait_trial(page, "Rate the sounds")
        step = page.evaluate("window.mushra.step")
        n = len(step["stimuli"])
        if trial_no == 0:  # sample-accurate check: switching from the reference to sound 2 keeps the position
            cap = page.evaluate(CAPTURE_JS, ["r", "2"])
            assert cap["rate"] == SR and cap["state"] == "running" and cap["active"] == 2
            ref, second = _fetch(srv.url + step["reference"]), _fetch(srv.url + step["stimuli"][1]["url"])
            _check_switch_keeps_position(cap, ref, second)
        for k in range(n):  # play every sound (keys 1..n) and rate it by dragging its slider
            page.keyboard.press(str(k + 1))
        assert page.is_disabled("#next")
        fracs = [1.2] + [0.15 + 0.15 * k for k in range(n - 1)]  # first dragged past the end: 100
        for k, f in enumerate(fracs):
            _drag_slider(page, k, f)
            if k < n - 1:
                assert page.is_disabled("#next")
        page.keyboard.press(" ")  # stop
        values = page.evaluate("Array.from(document.querySelectorAll('#rows input.slider')).map(s => Number(s.value))")
        assert values[0] == 100 and len(set(values)) == n
        page.wait_for_selector("#next:not([disabled])")
        page.click("#next")
        _wait_step_change(page, step["trial"])
        with app.extensions["mushra"]["db"].Read() as s:
            trial = s.get(Trial, step["trial"])
            saved = {r.condition: r.score for r in s.scalars(select(Rating).where(Rating.trial_id == trial.id))}
            expected = {cond: float(v) for (_, cond), v in zip(trial.stimuli, values)}
            assert saved == expected  # the ratings landed, mapped to the right conditions
            assert trial.telemetry["sample_rate"] == SR and trial.telemetry["time_on_page_ms"] > 0
            assert all(v >= 1 for v in trial.telemetry["plays"].values())

    page.wait_for_selector("#questionnaire:not([hidden])")
    page.check("input[name=device][value='closed headphones']")
    page.fill("textarea[name=comments]", "sounded fine")
    page.click("#q-submit")
    page.wait_for_selector("#done:not([hidden])")
    code = page.text_content("#code")
    assert code == app.extensions["mushra"]["study"].settings.completion_code
    assert page.get_attribute("#return-link", "href").endswith("cc=" + code)
    with app.extensions["mushra"]["db"].Read() as s:
        sess = s.scalar(select(Session))
        assert sess.state == "done" and sess.participant_id == "prolific:browser-rater"
        assert sess.crowd == {"PROLIFIC_PID": "browser-rater", "STUDY_ID": "st1", "SESSION_ID": "se1"}
        assert sess.device["viewport"] == [1000, 900] and "Chrome" in sess.user_agent
        assert len(list(s.scalars(select(Rating)))) == 2 * 5
    page.reload()  # resume after reload shows the code again
    page.wait_for_selector("#done:not([hidden])")
    assert page.text_content("#code") == code
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("viewport", [{"width": 1100, "height": 850}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_trial_page_screenshot(browser, served, tmp_path, viewport):
    from PIL import Image

    _, srv = served
    page = browser.new_page(viewport=viewport)
    page.goto(srv.url + "/")
    page.check("#consent-ok")
    page.click("#start")
    _calibrate(page)
    _wait_trial(page, "Training")
    training = page.evaluate("window.mushra.step.trial")
    for key in "r12345":
        page.keyboard.press(key)
    page.click("#next")
    _wait_step_change(page, training)
    _wait_trial(page, "Rate the sounds")
    page.keyboard.press("r")
    page.keyboard.press("2")
    _drag_slider(page, 0, 0.8)
    _drag_slider(page, 2, 0.35)
    box = page.locator("#wave").bounding_box()  # drag a 100 ms region: the player widens it to 500 ms
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.40, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=3)
    page.mouse.up()
    loop = page.evaluate("window.mushra.player.loop")
    assert loop[1] - loop[0] == pytest.approx(0.5, abs=1e-6) and loop[0] == pytest.approx(0.8, abs=0.03)
    assert page.evaluate("window.mushra.player.playing")
    page.wait_for_timeout(300)
    pos = page.evaluate("window.mushra.player.position()")
    assert loop[0] <= pos <= loop[1]
    no_overflow = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_overflow, "the trial page scrolls sideways"
    out = tmp_path / f"trial_{viewport['width']}.png"
    page.screenshot(path=str(out), full_page=True)
    page.close()
    img = np.asarray(Image.open(out).convert("RGB"))
    assert out.stat().st_size > 20_000 and img.shape[1] == viewport["width"]
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200  # text, waveform, sliders: not a blank page
    keep = Path(__import__("os").environ.get("MUSHRA_SCREENSHOT_DIR", ""))
    if keep.parts:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, keep / out.name)


@pytest.fixture
def served12(tmp_path):
    """12 signals per trial (hidden reference, 2 anchors, 9 codecs): the BS.1534-3 maximum."""
    study = build_study(tmp_path / "study12", sr=SR, seconds=2.0, extra_codecs=7,
                        rater={"trials_per_rater": 2, "training_items": 1})
    app = create_app(make_config(study, f"sqlite:///{tmp_path / 'r12.sqlite'}"))
    srv = LiveServer(app)
    yield app, srv
    srv.close()
    app.extensions["mushra"]["db"].dispose()


def _start_training(page, url: str) -> None:
    page.goto(url)
    page.check("#consent-ok")
    page.click("#start")
    _calibrate(page)
    _wait_trial(page, "Training")


def test_throttled_connection_shows_loading_and_plays_nothing_stale(browser, served):
    _, srv = served
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    _start_training(page, srv.url + "/?participant_id=slow-link")
    training = page.evaluate("window.mushra.step.trial")
    for key in "r12345":
        page.keyboard.press(key)
    assert page.evaluate("window.mushra.player.playing")  # the training's audio plays
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 200,
                                                   "downloadThroughput": 40_000, "uploadThroughput": 40_000})
    page.click("#next")
    _wait_step_change(page, training)
    page.wait_for_selector("#trial-title:text-is('Rate the sounds')")
    # the next trial's ~390 kB take seconds at 40 kB/s: loading is shown, every control is disabled...
    assert page.is_visible("#loading") and page.is_visible("#loading-bar")
    for sel in ("#ref", "#playstop", "#loop-reset", "#rows button.play >> nth=0", "#next"):
        assert page.is_disabled(sel), sel
    # ...and nothing plays: not the previous trial's audio (it was dropped), not a half-loaded one
    for key in "r12 ":
        page.keyboard.press(key)
    page.click("#rows .slider-wrap >> nth=0", force=True)
    state = page.evaluate("({playing: window.mushra.player.playing, buffers: window.mushra.player.buffers.length,"
                          " ready: window.mushra.player.ready, active: window.mushra.player.active,"
                          " rated: document.querySelector('#rows output.value').textContent})")
    assert state == {"playing": False, "buffers": 0, "ready": False, "active": -1, "rated": "–"}, state
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                   "uploadThroughput": -1})
    page.wait_for_selector("#loading", state="hidden", timeout=60_000)
    page.keyboard.press("1")
    after = page.evaluate("({playing: window.mushra.player.playing, active: window.mushra.player.active,"
                          " n: window.mushra.player.buffers.length, step: window.mushra.step.stimuli.length})")
    assert after["playing"] and after["active"] == 1 and after["n"] == after["step"] + 1
    assert page.evaluate("window.mushra.step.kind") == "mushra"
    page.close()


def test_phone_keeps_reference_reachable_with_twelve_signals(browser, served12, tmp_path):
    _, srv = served12
    ctx = browser.new_context(viewport={"width": 390, "height": 700}, has_touch=True, is_mobile=True,
                              device_scale_factor=2)
    page = ctx.new_page()
    _start_training(page, srv.url + "/?PROLIFIC_PID=phone-1")
    n = page.evaluate("window.mushra.step.stimuli.length")
    assert n == 12  # the BS.1534-3 maximum (hidden reference and anchors included)
    page.keyboard.press("w")  # keys for sounds 10 (0), 11 (Q), 12 (W): every sound has one
    assert page.evaluate("window.mushra.player.active") == 12
    page.keyboard.press("q")
    assert page.evaluate("window.mushra.player.active") == 11
    page.keyboard.press("0")
    assert page.evaluate("window.mushra.player.active") == 10
    assert page.get_attribute("#rows button.play >> nth=10", "aria-keyshortcuts") == "Q"
    last = page.locator("#rows .row").nth(n - 1)
    last.scroll_into_view_if_needed()
    page.wait_for_timeout(100)
    ref = page.locator("#ref").bounding_box()
    assert 0 <= ref["y"] and ref["y"] + ref["height"] <= 700, ref  # the Reference is on screen...
    hit = page.evaluate("(() => { const b = document.querySelector('#ref').getBoundingClientRect();"
                        " return document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2).id; })()")
    assert hit == "ref"  # ...and not covered: a tap reaches it
    page.tap("#ref")
    assert page.evaluate("window.mushra.player.active") == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # a vertical swipe over a slider scrolls, it does not set a score; a tap does
    box = page.locator("#rows .slider-wrap").nth(n - 2).bounding_box()
    cdp = ctx.new_cdp_session(page)
    x, y = box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2

    def touch(kind, px, py):
        pts = [] if kind == "touchEnd" else [{"x": px, "y": py}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": pts})

    touch("touchStart", x, y)
    for k in range(1, 8):
        touch("touchMove", x + k, y - 12 * k)
    touch("touchEnd", x, y)
    page.wait_for_timeout(200)
    assert page.locator("#rows output.value").nth(n - 2).text_content() == "–"
    page.wait_for_timeout(300)
    box = page.locator("#rows .slider-wrap").nth(n - 2).bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2)
    assert page.locator("#rows output.value").nth(n - 2).text_content() in ("69", "70", "71")
    out = tmp_path / "trial_phone_12.png"
    page.screenshot(path=str(out), full_page=False)
    keep = Path(__import__("os").environ.get("MUSHRA_SCREENSHOT_DIR", ""))
    if keep.parts:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, keep / out.name)
    ctx.close()


def test_page_in_german(browser, served, tmp_path):
    _, srv = served
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(srv.url + "/?lang=de")
    assert page.text_content("#start") == "Start" and "Willkommen" in page.text_content("#consent h2")
    page.check("#consent-ok")
    page.click("#start")
    page.wait_for_selector("#calibration:not([hidden])")
    assert page.text_content("#calibration h2") == "Lautstärke einstellen"
    page.wait_for_selector("#cal-play:not([disabled])")
    page.click("#cal-play")
    page.click("#cal-ok")
    page.wait_for_selector("#trial-title:text-is('Training')")
    page.wait_for_selector("#loading", state="hidden")
    assert "Um fortzufahren" in page.text_content("#gate")
    keep = Path(__import__("os").environ.get("MUSHRA_SCREENSHOT_DIR", ""))
    if keep.parts:
        keep.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(keep / "trial_de.png"), full_page=True)
    page.close()


LOOP_JS = """async () => {
  const p = window.mushra.player, ctx = p.ctx;
  await ctx.audioWorklet.addModule('/_test/tap.js');
  const node = new AudioWorkletNode(ctx, 'tap'), quanta = [];
  node.port.onmessage = (e) => quanta.push([e.data[0], Array.from(e.data[1])]);
  p.output.connect(node); node.connect(ctx.destination);
  document.dispatchEvent(new KeyboardEvent('keydown', {key: 'r', bubbles: true}));
  await new Promise((r) => setTimeout(r, 500));
  p.setLoop(1.0, 1.6);
  const restart = p.t0;
  await new Promise((r) => setTimeout(r, 500));
  p.output.disconnect(node);
  await new Promise((r) => setTimeout(r, 300));
  node.disconnect();
  return {quanta, restart, rate: ctx.sampleRate};
}"""


def test_loop_change_fades_out_and_in(browser, served):
    """Changing the loop while playing: 5 ms fade-out, at most a few ms of silence, 5 ms fade-in (no hard cut,
    no 60 ms gap)."""
    _, srv = served
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    _start_training(page, srv.url + "/?participant_id=looper")
    cap = page.evaluate(LOOP_JS)
    frames = {int(f): np.asarray(q, dtype=np.float32) for f, q in cap["quanta"]}
    f0 = min(frames)
    y = np.zeros(max(frames) + 128 - f0, dtype=np.float32)
    for f, q in frames.items():
        y[f - f0:f - f0 + len(q)] = q
    sr = cap["rate"]
    r = int(round(cap["restart"] * sr)) - f0  # the new sources start here (after the fade-out)
    ms = sr // 1000
    assert 40 * ms < r < len(y) - 40 * ms
    env = lambda a, b: float(np.abs(y[r + a * ms:r + b * ms]).max())  # noqa: E731 (ms relative to restart)
    assert env(-20, -10) > 0.05 and env(10, 20) > 0.05, "not playing around the loop change"
    assert env(-1, 1) < 0.2 * min(env(-20, -10), env(10, 20)), "a hard cut at the loop change"
    assert env(-3, -1) < env(-20, -10) and env(1, 3) < env(10, 20), "no fade around the loop change"
    silent = np.flatnonzero(np.abs(y[r - 40 * ms:r + 40 * ms]) < 1e-6)
    assert len(silent) < 4 * ms, f"{len(silent) / ms:.1f} ms of silence at the loop change"
    page.close()


def test_second_device_with_the_same_id_gets_a_message_and_the_resume_link_works(browser, served):
    _, srv = served
    url = srv.url + "/?PROLIFIC_PID=two-devices&STUDY_ID=s1&SESSION_ID=x"
    first = browser.new_context(viewport={"width": 1000, "height": 800})
    page = first.new_page()
    _start_training(page, url)
    token = page.evaluate("window.mushra.token")
    resume = page.get_attribute("#resume-link", "href")
    assert resume.endswith("?resume=" + token)
    page.reload()  # the same browser resumes by its stored token
    page.wait_for_selector("#trial:not([hidden])")
    assert page.evaluate("window.mushra.token") == token
    second = browser.new_context(viewport={"width": 390, "height": 760})
    other = second.new_page()
    other.goto(url)
    other.check("#consent-ok")
    other.click("#start")
    other.wait_for_selector("#status.error")
    assert "already started the study in another browser" in other.text_content("#status")
    assert other.evaluate("window.mushra.token") in (None, "")  # it did not get the first one's token
    other.goto(resume)  # the resume link hands the session over on purpose
    _calibrate(other)  # a new device: its volume is set again
    other.wait_for_selector("#trial:not([hidden])")
    assert other.evaluate("window.mushra.token") == token
    first.close()
    second.close()
