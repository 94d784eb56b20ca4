/* One MUSHRA (or training) trial: reference button, one unset slider per stimulus, waveform with a
   selectable loop region (>= 500 ms), keyboard shortcuts (R, 1-9/0, space), Next gated by the rules. */
(function () {
  'use strict';
  const $ = (sel, el) => (el || document).querySelector(sel);

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

  function run(step, app) {
    app.show('trial');
    const training = step.kind === 'training';
    $('#trial-title').textContent = training ? 'Training' : 'Rate the sounds';
    $('#trial-hint').textContent = training
      ? 'Practice: listen to the reference and every sound, and try the sliders. These answers are not used.'
      : 'Compare each sound with the reference and rate its quality. One of them is the reference itself.';
    const rows = $('#rows'); rows.textContent = '';
    const next = $('#next'); next.disabled = true;
    $('#loading').hidden = false;
    const player = app.ensurePlayer(step.sample_rate);
    const urls = [step.reference].concat(step.stimuli.map((s) => s.url));
    const n = step.stimuli.length;
    const played = new Array(n).fill(false), plays = new Array(n).fill(0), rated = new Array(n).fill(false);
    let refPlays = 0, loopChanges = 0;
    const sliders = [], buttons = [];

    step.stimuli.forEach((s, i) => {
      const row = document.createElement('div'); row.className = 'row';
      const b = document.createElement('button'); b.type = 'button'; b.className = 'play';
      b.textContent = String(i + 1); b.title = `Play sound ${i + 1} (key ${i < 9 ? i + 1 : 0})`;
      b.dataset.index = String(i);
      const sl = document.createElement('input'); sl.type = 'range'; sl.min = '0'; sl.max = '100'; sl.step = '1';
      sl.value = '50'; sl.className = 'slider unset'; sl.setAttribute('aria-label', `Rating of sound ${i + 1}`);
      const val = document.createElement('output'); val.className = 'value'; val.textContent = '–';
      sl.addEventListener('input', () => { rated[i] = true; sl.classList.remove('unset'); val.textContent = sl.value; gate(); });
      b.addEventListener('click', () => select(i + 1));
      row.appendChild(b); row.appendChild(sl); row.appendChild(val); rows.appendChild(row);
      sliders.push(sl); buttons.push(b);
    });

    function select(k) {  /* 0 = reference, 1..n = stimuli */
      player.select(k);
      if (k === 0) refPlays += 1; else { played[k - 1] = true; plays[k - 1] += 1; }
      gate();
    }
    function toggle() { if (player.playing) player.stop(); else select(player.lastSelected || 0); }

    function gate() {
      const r = step.rules, missing = [];
      if (r.require_all_played && played.some((p) => !p)) missing.push('play every sound');
      if (!training && rated.some((x) => !x)) missing.push('rate every sound');
      if (r.require_one_at_100 && !sliders.some((s, i) => rated[i] && Number(s.value) === 100)) missing.push('rate at least one sound 100');
      next.disabled = missing.length > 0;
      $('#gate').textContent = missing.length ? 'To continue: ' + missing.join(', ') + '.' : '';
    }

    player.onchange = () => {
      $('#ref').classList.toggle('active', player.active === 0);
      buttons.forEach((b, i) => b.classList.toggle('active', player.active === i + 1));
      if (player.active >= 0) player.lastSelected = player.active;
      $('#playstop').textContent = player.playing ? 'Stop (space)' : 'Play (space)';
    };
    $('#ref').onclick = () => select(0);
    $('#playstop').onclick = toggle;

    const onKey = (ev) => {
      if (ev.target && /^(TEXTAREA|INPUT)$/.test(ev.target.tagName) && ev.target.type !== 'range') return;
      if (ev.key === 'r' || ev.key === 'R') { select(0); ev.preventDefault(); }
      else if (/^[0-9]$/.test(ev.key)) { const k = ev.key === '0' ? 10 : Number(ev.key); if (k <= n) { select(k); ev.preventDefault(); } }
      else if (ev.key === ' ') { toggle(); ev.preventDefault(); }
    };
    document.addEventListener('keydown', onKey);

    const canvas = $('#wave');
    let paint = null, raf = 0, drag = null;
    const timeAt = (ev) => { const r = canvas.getBoundingClientRect(); return Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width)) * player.duration; };
    canvas.onpointerdown = (ev) => { drag = timeAt(ev); canvas.setPointerCapture(ev.pointerId); };
    canvas.onpointerup = (ev) => {
      if (drag === null) return;
      const t = timeAt(ev), a = Math.min(drag, t), b = Math.max(drag, t); drag = null;
      if (b - a < 0.05) return;  // a click, not a drag
      player.setLoop(a, b); loopChanges += 1;
    };
    $('#loop-reset').onclick = () => { player.setLoop(0, player.duration); loopChanges += 1; };
    const tick = () => { if (paint) paint(); raf = requestAnimationFrame(tick); };

    player.load(urls).then((bufs) => {
      $('#loading').hidden = true;
      paint = drawWave(canvas, bufs[0], player);
      raf = requestAnimationFrame(tick);
      gate();
    }).catch(app.fail);

    next.onclick = async () => {
      next.disabled = true;
      const ratings = {}, telPlays = {}, listen = {};
      step.stimuli.forEach((s, i) => {
        if (rated[i]) ratings[s.id] = Number(sliders[i].value);
        telPlays[s.id] = plays[i]; listen[s.id] = Math.round(player.listenMs[i + 1] || 0);
      });
      player.stop();
      const telemetry = { plays: telPlays, listen_ms: listen, reference_plays: refPlays,
        reference_listen_ms: Math.round(player.listenMs[0] || 0), loop_changes: loopChanges, loop_s: player.loop,
        time_on_page_ms: Math.round(performance.now() - app.pageStart), focus_losses: app.focusLosses,
        sample_rate: player.ctx.sampleRate };
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
  window.MushraTrial = { run };
})();
