/* One MUSHRA (or training) trial: reference button, one unset slider per stimulus, waveform with a
   selectable loop region (>= 500 ms), keys for every sound (R, 1-9, 0, Q, W; space), Next gated by the rules.
   Until this trial's audio is decoded every control is disabled and a loading bar shows; played sounds are
   marked; sliders move only on deliberate horizontal drags or taps (vertical swipes scroll the page). */
(function () {
  'use strict';
  const $ = (sel, el) => (el || document).querySelector(sel);
  const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', 'q', 'w'];  // sound i+1 <- KEYS[i]
  const TAP_PX = 8, DRAG_PX = 10;

  function drawWave(canvas, buffer, player) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    const g = canvas.getContext('2d'); g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const data = buffer.getChannelData(0), step = Math.max(1, Math.floor(data.length / w));
    const peaks = [];
    for (let x = 0; x < w; x++) {
      let lo = 0, hi = 0;
      for (let i = x * step, e = Math.min(data.length, (x + 1) * step); i < e; i++) { const v = data[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
      peaks.push([lo, hi]);
    }
    let peak = 1e-6; peaks.forEach(([lo, hi]) => { peak = Math.max(peak, -lo, hi); });
    return function paint() {
      g.clearRect(0, 0, w, h);
      const [a, b] = player.loop, dur = player.duration;
      g.fillStyle = '#dbe8f7'; g.fillRect(a / dur * w, 0, (b - a) / dur * w, h);
      g.fillStyle = '#3b6ea5';
      peaks.forEach(([lo, hi], x) => { const y0 = h / 2 - hi / peak * h * 0.45, y1 = h / 2 - lo / peak * h * 0.45; g.fillRect(x, y0, 1, Math.max(1, y1 - y0)); });
      const pos = player.position();
      if (pos !== null) { g.fillStyle = '#c0392b'; g.fillRect(pos / dur * w - 1, 0, 2, h); }
    };
  }

  /* A range input driven by pointer events on its wrapper (touch-action: pan-y): mouse and pen set the value
     at once; a touch sets it on a tap or once the finger has moved clearly sideways; a vertical swipe is left
     to the browser (it scrolls the page and cancels the pointer). The input keeps keyboard control. */
  function slider(label, onValue) {
    const wrap = document.createElement('div'); wrap.className = 'slider-wrap';
    const sl = document.createElement('input'); sl.type = 'range'; sl.min = '0'; sl.max = '100'; sl.step = '1';
    sl.value = '50'; sl.className = 'slider unset'; sl.setAttribute('aria-label', label); sl.disabled = true;
    wrap.appendChild(sl);
    const valueAt = (x) => { const r = sl.getBoundingClientRect(); return Math.round(Math.max(0, Math.min(1, (x - r.left) / r.width)) * 100); };
    const set = (v) => { sl.value = String(v); onValue(); };
    let start = null, dragging = false;
    wrap.addEventListener('pointerdown', (ev) => {
      if (sl.disabled) return;
      start = { x: ev.clientX, y: ev.clientY, id: ev.pointerId, touch: ev.pointerType === 'touch' };
      dragging = !start.touch;
      if (dragging) { wrap.setPointerCapture(ev.pointerId); sl.focus(); set(valueAt(ev.clientX)); ev.preventDefault(); }
    });
    wrap.addEventListener('pointermove', (ev) => {
      if (!start || ev.pointerId !== start.id) return;
      if (!dragging) {
        const dx = ev.clientX - start.x, dy = ev.clientY - start.y;
        if (Math.abs(dx) < DRAG_PX || Math.abs(dx) < 2 * Math.abs(dy)) return;
        dragging = true; wrap.setPointerCapture(ev.pointerId);
      }
      set(valueAt(ev.clientX));
    });
    wrap.addEventListener('pointerup', (ev) => {
      if (start && !dragging && Math.abs(ev.clientX - start.x) < TAP_PX && Math.abs(ev.clientY - start.y) < TAP_PX) set(valueAt(ev.clientX));
      start = null; dragging = false;
    });
    wrap.addEventListener('pointercancel', () => { start = null; dragging = false; });
    sl.addEventListener('input', onValue);  // keyboard
    return { wrap, sl };
  }

  function run(step, app) {
    const T = app.text;
    app.show('trial');
    const training = step.kind === 'training';
    $('#trial-title').textContent = training ? T.training_title : T.trial_title;
    $('#trial-hint').textContent = training ? T.training_hint : T.trial_hint;
    const rows = $('#rows'); rows.textContent = '';
    const next = $('#next'); next.disabled = true;
    const controls = [$('#ref'), $('#playstop'), $('#loop-reset')];
    const loading = $('#loading'), bar = $('#loading-bar');
    loading.hidden = false; bar.value = 0; $('#loading-text').textContent = T.loading;
    $('#trial').classList.add('is-loading');
    const player = app.ensurePlayer(step.sample_rate);
    player.onchange = null;
    const urls = [step.reference].concat(step.stimuli.map((s) => s.url));
    const n = step.stimuli.length;
    const played = new Array(n).fill(false), plays = new Array(n).fill(0), rated = new Array(n).fill(false);
    let refPlays = 0, loopChanges = 0, ready = false, loadMs = 0;
    const sliders = [], buttons = [], t0 = performance.now();
    const fmtKey = (i) => KEYS[i].toUpperCase();

    step.stimuli.forEach((s, i) => {
      const row = document.createElement('div'); row.className = 'row';
      const b = document.createElement('button'); b.type = 'button'; b.className = 'play';
      b.textContent = String(i + 1); b.title = T.play_sound.replace('{n}', i + 1).replace('{key}', fmtKey(i));
      b.setAttribute('aria-keyshortcuts', fmtKey(i)); b.dataset.index = String(i); b.disabled = true;
      const val = document.createElement('output'); val.className = 'value'; val.textContent = '–';
      const { wrap, sl } = slider(T.rating_of.replace('{n}', i + 1), () => {
        rated[i] = true; sl.classList.remove('unset'); val.textContent = sl.value; gate();
      });
      b.addEventListener('click', () => select(i + 1));
      row.appendChild(b); row.appendChild(wrap); row.appendChild(val); rows.appendChild(row);
      sliders.push(sl); buttons.push(b);
    });
    controls.forEach((c) => { c.disabled = true; });

    function select(k) {  /* 0 = reference, 1..n = stimuli; nothing happens until this trial's audio is ready */
      if (!ready || !player.select(k)) return;
      if (k === 0) refPlays += 1;
      else {
        plays[k - 1] += 1;
        if (!played[k - 1]) { played[k - 1] = true; buttons[k - 1].classList.add('played'); buttons[k - 1].setAttribute('aria-description', T.played); }
      }
      gate();
    }
    function toggle() { if (!ready) return; if (player.playing) player.stop(); else select(player.lastSelected || 0); }

    function gate() {
      const r = step.rules, missing = [];
      if (!ready) { next.disabled = true; $('#gate').textContent = ''; return; }
      if (r.require_all_played && played.some((p) => !p)) missing.push(T.gate_play);
      if (!training && rated.some((x) => !x)) missing.push(T.gate_rate);
      if (r.require_one_at_100 && !sliders.some((s, i) => rated[i] && Number(s.value) === 100)) missing.push(T.gate_100);
      next.disabled = missing.length > 0;
      $('#gate').textContent = missing.length ? T.gate_prefix + ' ' + missing.join(', ') + '.' : '';
    }

    const onKey = (ev) => {
      if (!ready || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.target && /^(TEXTAREA|INPUT)$/.test(ev.target.tagName) && ev.target.type !== 'range') return;
      const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
      const k = KEYS.indexOf(key);
      if (key === 'r') { select(0); ev.preventDefault(); }
      else if (k >= 0 && k < n) { select(k + 1); ev.preventDefault(); }
      else if (key === ' ') { toggle(); ev.preventDefault(); }
    };
    document.addEventListener('keydown', onKey);
    app.cleanup = () => document.removeEventListener('keydown', onKey);

    const canvas = $('#wave');
    canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
    let paint = null, raf = 0, drag = null;
    const timeAt = (ev) => { const r = canvas.getBoundingClientRect(); return Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width)) * player.duration; };
    canvas.onpointerdown = (ev) => { if (!ready) return; drag = timeAt(ev); canvas.setPointerCapture(ev.pointerId); };
    canvas.onpointerup = (ev) => {
      if (drag === null) return;
      const t = timeAt(ev), a = Math.min(drag, t), b = Math.max(drag, t); drag = null;
      if (b - a < 0.05) return;  // a click, not a drag
      player.setLoop(a, b); loopChanges += 1;
    };
    $('#loop-reset').onclick = () => { if (!ready) return; player.setLoop(0, player.duration); loopChanges += 1; };
    $('#ref').onclick = () => select(0);
    $('#playstop').onclick = toggle;
    const tick = () => { if (paint) paint(); raf = requestAnimationFrame(tick); };

    player.load(urls, (done, total) => { bar.value = done / total; }).then((bufs) => {
      if (app.step !== step) return;  // the page moved on meanwhile
      loadMs = performance.now() - t0;
      ready = true;
      player.onchange = () => {
        $('#ref').classList.toggle('active', player.active === 0);
        buttons.forEach((b, i) => b.classList.toggle('active', player.active === i + 1));
        if (player.active >= 0) player.lastSelected = player.active;
        $('#playstop').textContent = player.playing ? T.stop : T.play;
      };
      player.onchange();
      loading.hidden = true;
      $('#trial').classList.remove('is-loading');
      controls.forEach((c) => { c.disabled = false; });
      buttons.forEach((b) => { b.disabled = false; });
      sliders.forEach((s) => { s.disabled = false; });
      paint = drawWave(canvas, bufs[0], player);
      raf = requestAnimationFrame(tick);
      gate();
    }).catch((e) => { if (!e.stale) app.fail(e); });

    next.onclick = async () => {
      if (!ready) return;
      next.disabled = true;
      const ratings = {}, telPlays = {}, listen = {};
      player.stop();
      step.stimuli.forEach((s, i) => {
        if (rated[i]) ratings[s.id] = Number(sliders[i].value);
        telPlays[s.id] = plays[i]; listen[s.id] = Math.round(player.listenMs[i + 1] || 0);
      });
      const telemetry = { plays: telPlays, listen_ms: listen, reference_plays: refPlays,
        reference_listen_ms: Math.round(player.listenMs[0] || 0), loop_changes: loopChanges, loop_s: player.loop,
        time_on_page_ms: Math.round(performance.now() - app.pageStart), focus_losses: app.focusLosses,
        sample_rate: player.ctx.sampleRate, load_ms: Math.round(loadMs) };
      if (app.calibrationMs && !app.calibrationSent) { telemetry.calibration_ms = Math.round(app.calibrationMs); app.calibrationSent = true; }
      let r;
      try {
        r = await app.submit(step.trial, { ratings, telemetry });
      } catch (e) { next.disabled = false; app.fail(e); return; }
      document.removeEventListener('keydown', onKey);
      cancelAnimationFrame(raf);
      player.stopNow();
      app.advance(r.next).catch(app.fail);
    };
  }
  window.MushraTrial = { run, KEYS };
})();
