/* The rater's page: consent -> training -> headphone check -> MUSHRA trials -> questionnaire -> code.
   Everything goes through the JSON API (/api/sessions...), the same one scripts use. */
(function () {
  'use strict';
  const $ = (sel, el) => (el || document).querySelector(sel);
  const KEY = 'mushra.session';
  const CROWD = ['PROLIFIC_PID', 'STUDY_ID', 'SESSION_ID', 'workerId', 'assignmentId', 'hitId'];
  const state = { token: null, player: null, step: null, pageStart: 0, focusLosses: 0, text: {}, calibrated: false,
    calibrationMs: 0 };
  window.mushra = state;  // for debugging and the browser tests
  const fill = (tpl, vals) => tpl.replace(/\{(\w+)\}/g, (m, k) => (k in vals ? String(vals[k]) : m));

  function show(id) {
    document.querySelectorAll('main > section').forEach((s) => { s.hidden = s.id !== id; });
    window.scrollTo(0, 0);
  }
  function status(msg, isError) {
    const el = $('#status'); el.textContent = msg || ''; el.className = isError ? 'status error' : 'status';
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function call(method, url, body) {  /* retries network errors, 429 and 5xx with backoff */
    for (let attempt = 0; ; attempt++) {
      let r;
      try {
        r = await fetch(url, { method, credentials: 'same-origin', cache: 'no-store',
          headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (e) { r = null; }
      if (r && (r.status < 500 && r.status !== 429)) {
        const data = await r.json().catch(() => ({}));
        if (!r.ok) { const err = new Error(data.message || ('HTTP ' + r.status)); err.status = r.status; err.data = data; throw err; }
        return data;
      }
      if (attempt >= 6) throw new Error('the server cannot be reached; your answers so far are saved. Reload to continue.');
      status(state.text.retrying, true);
      await sleep(Math.min(8000, 500 * 2 ** attempt));
    }
  }

  function crowdId(q) { return q.get('PROLIFIC_PID') || q.get('workerId') || q.get('participant_id') || ''; }

  function deviceInfo() {
    return { screen: [screen.width, screen.height], viewport: [innerWidth, innerHeight],
      dpr: devicePixelRatio, lang: navigator.language, platform: navigator.platform || '',
      touch: 'ontouchstart' in window, tz: Intl.DateTimeFormat().resolvedOptions().timeZone };
  }

  async function begin() {
    const q = new URLSearchParams(location.search);
    const crowd = {};
    CROWD.forEach((k) => { if (q.get(k)) crowd[k] = q.get(k); });
    const body = { crowd, device: deviceInfo() };
    if (q.get('participant_id')) body.participant_id = q.get('participant_id');
    const r = await call('POST', '/api/sessions', body);
    state.token = r.session;
    try { localStorage.setItem(KEY, r.session); localStorage.setItem(KEY + '.pid', crowdId(q) || ''); } catch (e) { /* private mode */ }
    const lang = q.get('lang');
    const url = r.resume_url + (lang ? '&lang=' + encodeURIComponent(lang) : '');
    $('#resume-link').href = url; $('#resume-link').textContent = url; $('#resume').hidden = false;
    await advance();
  }

  async function advance(given) {  /* `given`: the next step returned with a submission (saves a request) */
    status('');
    const step = given || await call('GET', '/api/sessions/' + state.token + '/next');
    if (state.cleanup) { state.cleanup(); state.cleanup = null; }
    state.step = step; state.pageStart = performance.now(); state.focusLosses = 0;
    const pr = step.progress, T = state.text;
    $('#progress').textContent = step.kind === 'training' ? T.progress_training : step.kind === 'headphone' ? T.progress_headphone
      : (step.kind === 'mushra' && pr) ? fill(T.progress_trial, { done: pr.done + 1, total: pr.total }) : '';
    if ((step.kind === 'training' || step.kind === 'mushra') && !state.calibrated) return calibrate(step);
    if (step.kind === 'training' || step.kind === 'mushra') return window.MushraTrial.run(step, state);
    if (step.kind === 'headphone') return headphoneCheck(step);
    if (step.kind === 'questionnaire') return questionnaire(step);
    if (step.kind === 'done') return done(step);
    throw new Error('unknown step ' + step.kind);
  }
  state.advance = advance;
  state.call = call;
  state.status = status;
  state.show = show;

  async function submit(trial, payload) {
    const r = await call('POST', `/api/sessions/${state.token}/trials/${trial}`, payload);
    return r;
  }
  state.submit = submit;

  function ensurePlayer(rate) {
    if (!state.player || state.player.requestedRate !== rate) state.player = new window.MushraPlayer(rate);
    return state.player;
  }
  state.ensurePlayer = ensurePlayer;

  /* Volume calibration before the first rated page: the trial's reference loops at the level the stimuli
     have (they are loudness-normalised by prepare); the rater sets a comfortable device volume. */
  async function calibrate(step) {
    show('calibration');
    const player = ensurePlayer(step.sample_rate);
    $('#cal-loading').hidden = false; $('#cal-play').disabled = true; $('#cal-ok').disabled = true;
    try { await player.load([step.reference]); } catch (e) { if (e.stale) return; throw e; }
    if (state.step !== step) return;
    $('#cal-loading').hidden = true; $('#cal-play').disabled = false;
    const t0 = performance.now();
    $('#cal-play').onclick = () => {
      if (player.playing) { player.stop(); $('#cal-play').textContent = state.text.calibration_play; return; }
      player.select(0); $('#cal-play').textContent = state.text.calibration_stop; $('#cal-ok').disabled = false;
    };
    $('#cal-ok').onclick = () => {
      player.stopNow(); state.calibrated = true; state.calibrationMs = performance.now() - t0; state.pageStart = performance.now();
      try { localStorage.setItem(KEY + '.calibrated', state.token); } catch (e) { /* private mode */ }
      window.MushraTrial.run(step, state);
    };
  }

  async function headphoneCheck(step) {
    show('headphone');
    const player = ensurePlayer(step.sample_rate);
    const box = $('#hp-box');
    box.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    $('#hp-loading').hidden = false;
    let bufs;
    try { bufs = await player.load(step.tests.map((t) => t.url)); } catch (e) { if (e.stale) return; throw e; }
    if (state.step !== step) return;
    $('#hp-loading').hidden = true;
    const answers = {}; let i = 0;
    const render = () => {
      $('#hp-count').textContent = fill(state.text.hp_count, { done: i + 1, total: step.tests.length });
      box.querySelectorAll('button.choice').forEach((b) => { b.disabled = true; });
      $('#hp-play').disabled = false;
    };
    $('#hp-play').onclick = () => {
      if (player.ctx.state !== 'running') player.ctx.resume();
      $('#hp-play').disabled = true;
      const src = player.ctx.createBufferSource(); src.buffer = bufs[i]; src.connect(player.ctx.destination);
      src.onended = () => box.querySelectorAll('button.choice').forEach((b) => { b.disabled = false; });
      src.start();
    };
    box.querySelectorAll('button.choice').forEach((b) => {
      b.onclick = async () => {
        answers[step.tests[i].id] = Number(b.dataset.value);
        i += 1;
        if (i < step.tests.length) return render();
        const r = await submit(step.trial, { answers, telemetry: { time_on_page_ms: performance.now() - state.pageStart } });
        advance(r.next).catch(fail);
      };
    });
    render();
  }

  function questionnaire(step) {
    show('questionnaire');
    const form = $('#q-form'); form.textContent = '';
    const T = state.text;
    step.questions.forEach((q) => {
      const fs = document.createElement('fieldset');
      const lg = document.createElement('legend'); lg.textContent = T['q_' + q.id] || q.label; fs.appendChild(lg);
      if (q.type === 'choice') {
        const shown = T['q_' + q.id + '_options'] || [];
        q.options.forEach((o, k) => {  /* the stored value is the English option, the label is translated */
          const l = document.createElement('label'); const r = document.createElement('input');
          r.type = 'radio'; r.name = q.id; r.value = o; l.appendChild(r); l.appendChild(document.createTextNode(' ' + (shown[k] || o)));
          fs.appendChild(l);
        });
      } else {
        const t = document.createElement('textarea'); t.name = q.id; t.maxLength = 2000; t.rows = 3; fs.appendChild(t);
      }
      form.appendChild(fs);
    });
    $('#q-submit').onclick = async (ev) => {
      ev.preventDefault();
      const answers = {};
      step.questions.forEach((q) => {
        const el = q.type === 'choice' ? form.querySelector(`input[name="${q.id}"]:checked`) : form.querySelector(`[name="${q.id}"]`);
        if (el && el.value) answers[q.id] = el.value;
      });
      $('#q-submit').disabled = true;
      let r;
      try { r = await submit(step.trial, { answers, telemetry: { time_on_page_ms: performance.now() - state.pageStart } }); }
      catch (e) { $('#q-submit').disabled = false; fail(e); return; }
      $('#q-submit').disabled = false;
      advance(r.next).catch(fail);
    };
  }

  function done(step) {
    if (state.player) state.player.stopNow();
    show('done');
    $('#progress').textContent = '';
    $('#done-title').textContent = step.screened_out ? state.text.screened_title : state.text.done_title;
    $('#done-text').textContent = step.screened_out ? state.text.screened_text : state.text.done_text;
    $('#code').textContent = step.completion_code;
    const a = $('#return-link');
    if (step.completion_url) { a.href = step.completion_url; a.hidden = false; } else { a.hidden = true; }
  }

  function closed(data) {  /* an adaptive study that stopped: every target met or the budget spent */
    show('complete');
    const a = $('#complete-link');
    if (data && data.return_url) { a.href = data.return_url; a.hidden = false; }
  }

  function fail(err) {
    if (err && err.status === 409 && err.data && err.data.error === 'study_complete') return closed(err.data);
    status((err && err.message) || String(err), true);
    if (err && err.status === 404 && err.data && err.data.error === 'unknown_session') {
      try { localStorage.removeItem(KEY); } catch (e) { /* ignore */ }
    }
  }
  state.fail = fail;

  window.addEventListener('blur', () => { state.focusLosses += 1; });
  document.addEventListener('visibilitychange', () => { if (document.hidden) state.focusLosses += 1; });

  document.addEventListener('DOMContentLoaded', () => {
    state.text = JSON.parse($('#texts').textContent);
    const q = new URLSearchParams(location.search);
    let saved = q.get('resume');
    if (!saved) {  /* the session stored in this browser, if it belongs to the participant in the URL */
      try { if ((localStorage.getItem(KEY + '.pid') || '') === crowdId(q)) saved = localStorage.getItem(KEY); } catch (e) { saved = null; }
    }
    $('#consent-ok').onchange = () => { $('#start').disabled = !$('#consent-ok').checked; };
    $('#start').onclick = () => { $('#start').disabled = true; begin().catch((e) => { $('#start').disabled = false; fail(e); }); };
    if (saved) {
      state.token = saved;
      try { state.calibrated = localStorage.getItem(KEY + '.calibrated') === saved; } catch (e) { /* */ }
      call('GET', '/api/sessions/' + saved).then(() => {
        $('#resume-link').href = location.origin + '/?resume=' + saved; $('#resume-link').textContent = $('#resume-link').href;
        $('#resume').hidden = false;
        return advance();
      }).catch((e) => { state.token = null; try { localStorage.removeItem(KEY); } catch (x) { /* */ } show('consent'); if (e.status !== 404) fail(e); });
    } else {
      show($('main').dataset.closed ? 'complete' : 'consent');
    }
  });
})();
