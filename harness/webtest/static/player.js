/* MUSHRA player: every stimulus of a trial is decoded and looped in sync (all sources start at the same
   context time); switching changes gains only, with 5 ms raised-cosine ramps: the old signal fades out fully,
   then the new one fades in (never a cross-fade, ITU-R BS.1534-3). Switches are serialised so ramps never
   overlap. The AudioContext runs at the stimuli's sample rate, so no resampling happens in the browser. */
(function () {
  'use strict';
  const FADE_S = 0.005;
  const LOOKAHEAD_S = 0.02;  // switches are scheduled this far ahead of currentTime
  const START_LOOKAHEAD_S = 0.06;  // starting all sources: time for the message to reach the audio thread
  const MIN_LOOP_S = 0.5;

  function rampCurve(up) {
    const n = 64, c = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = 0.5 - 0.5 * Math.cos(Math.PI * i / (n - 1));
      c[i] = up ? v : 1 - v;
    }
    return c;
  }
  const UP = rampCurve(true), DOWN = rampCurve(false);

  class Player {
    constructor(sampleRate) {
      const AC = window.AudioContext || window.webkitAudioContext;
      this.requestedRate = sampleRate;
      try {
        this.ctx = new AC({ sampleRate: sampleRate, latencyHint: 'interactive' });
      } catch (e) {  // a browser that cannot run at this rate: decodeAudioData resamples (noted in telemetry)
        this.ctx = new AC({ latencyHint: 'interactive' });
      }
      this.output = this.ctx.createGain();
      this.output.connect(this.ctx.destination);
      this.buffers = []; this.gains = []; this.sources = null;
      this.active = -1; this.t0 = 0; this.offset0 = 0; this.busyUntil = 0;
      this.loop = [0, 0]; this.onchange = null; this.listenStart = 0; this.listenMs = [];
      this.ready = false; this.generation = 0;
    }

    /* Load (download + decode) a trial's sounds. Until it resolves the player is not `ready` and plays
       nothing: the previous trial's buffers are dropped first, so stale audio can never sound. A load that
       was superseded by a newer one rejects with `stale`. `onProgress(done, total)` reports decoded files. */
    async load(urls, onProgress) {
      this.stopNow();
      const gen = ++this.generation;
      this.ready = false; this.buffers = [];
      this.gains.forEach((g) => g.disconnect()); this.gains = [];
      let done = 0;
      const bufs = await Promise.all(urls.map(async (u) => {
        let lastErr;
        for (let attempt = 0; attempt < 4; attempt++) {
          try {
            const r = await fetch(u, { credentials: 'same-origin', cache: 'no-store' });
            if (!r.ok) throw new Error('audio ' + r.status);
            const buf = await this.ctx.decodeAudioData(await r.arrayBuffer());
            done += 1; if (onProgress && gen === this.generation) onProgress(done, urls.length);
            return buf;
          } catch (e) { lastErr = e; await new Promise((res) => setTimeout(res, 500 * (attempt + 1))); }
        }
        throw lastErr;
      }));
      if (gen !== this.generation) { const e = new Error('stale'); e.stale = true; throw e; }
      this.buffers = bufs;
      this.gains = bufs.map(() => { const g = this.ctx.createGain(); g.gain.value = 0; g.connect(this.output); return g; });
      this.duration = Math.min(...bufs.map((b) => b.duration));
      this.loop = [0, this.duration];
      this.listenMs = bufs.map(() => 0);
      this.ready = true;
      return bufs;
    }

    get playing() { return this.sources !== null; }

    position() {  /* seconds into the buffer of the signal now being heard */
      if (!this.sources) return null;
      const [a, b] = this.loop;
      const el = this.ctx.currentTime - this.t0;
      if (el < 0) return this.offset0;
      return a + ((this.offset0 - a + el) % (b - a));
    }

    _startAll(offset) {
      const [a, b] = this.loop;
      const t0 = Math.max(this.ctx.currentTime + START_LOOKAHEAD_S, this.busyUntil);
      this.sources = this.buffers.map((buf, i) => {
        const s = this.ctx.createBufferSource();
        s.buffer = buf; s.loop = true; s.loopStart = a; s.loopEnd = b;
        s.connect(this.gains[i]);
        s.start(t0, offset);
        return s;
      });
      this.t0 = t0; this.offset0 = offset; this.busyUntil = t0;
    }

    select(index) {  /* start (if stopped) and make `index` the audible signal; false while loading */
      if (!this.ready || index < 0 || index >= this.buffers.length) return false;
      if (this.ctx.state !== 'running') this.ctx.resume();
      if (!this.sources) this._startAll(this.loop[0]);
      if (index === this.active) return;
      let t = Math.max(this.ctx.currentTime + LOOKAHEAD_S, this.busyUntil);
      if (this.active >= 0) {
        this.gains[this.active].gain.setValueCurveAtTime(DOWN, t, FADE_S);
        t += FADE_S;
      }
      this.gains[index].gain.setValueCurveAtTime(UP, t, FADE_S);
      this.busyUntil = t + FADE_S;
      this._account();
      this.active = index;
      if (this.onchange) this.onchange();
      return true;
    }

    _account() {
      const now = performance.now();
      if (this.active >= 0 && this.listenStart) this.listenMs[this.active] += now - this.listenStart;
      this.listenStart = now;
    }

    stop() {  /* fade out, then stop every source */
      if (!this.sources) return;
      const t = Math.max(this.ctx.currentTime + LOOKAHEAD_S, this.busyUntil);
      if (this.active >= 0) this.gains[this.active].gain.setValueCurveAtTime(DOWN, t, FADE_S);
      const srcs = this.sources;
      srcs.forEach((s) => s.stop(t + FADE_S + 0.002));
      this._account(); this.listenStart = 0;
      this.sources = null; this.active = -1; this.busyUntil = t + FADE_S + 0.002;
      if (this.onchange) this.onchange();
    }

    stopNow() {
      if (this.sources) this.sources.forEach((s) => { try { s.stop(); } catch (e) { /* already stopped */ } });
      this.gains.forEach((g) => { g.gain.cancelScheduledValues(0); g.gain.value = 0; });
      if (this.active >= 0) this._account();
      this.listenStart = 0; this.sources = null; this.active = -1; this.busyUntil = 0;
    }

    setLoop(a, b) {  /* seconds; at least 500 ms. While playing: the audible signal fades out (5 ms), every
                        source restarts at the new loop start, and the same signal fades back in (5 ms). */
      a = Math.max(0, Math.min(a, this.duration)); b = Math.max(0, Math.min(b, this.duration));
      if (b < a) [a, b] = [b, a];
      if (b - a < MIN_LOOP_S) {
        b = Math.min(this.duration, a + MIN_LOOP_S); a = Math.max(0, b - MIN_LOOP_S);
      }
      this.loop = [a, b];
      if (this.sources) {
        const was = this.active;
        const t = Math.max(this.ctx.currentTime + LOOKAHEAD_S, this.busyUntil);
        if (was >= 0) this.gains[was].gain.setValueCurveAtTime(DOWN, t, FADE_S);
        this.sources.forEach((s) => s.stop(t + FADE_S));
        const t1 = t + FADE_S + 0.001;  // the new sources start silent, after the old ones stopped
        this.sources = this.buffers.map((buf, i) => {
          const s = this.ctx.createBufferSource();
          s.buffer = buf; s.loop = true; s.loopStart = a; s.loopEnd = b;
          s.connect(this.gains[i]); s.start(t1, a);
          return s;
        });
        this.t0 = t1; this.offset0 = a;
        if (was >= 0) this.gains[was].gain.setValueCurveAtTime(UP, t1, FADE_S);
        this.busyUntil = t1 + FADE_S;
      }
      if (this.onchange) this.onchange();
    }
  }
  Player.MIN_LOOP_S = MIN_LOOP_S;
  window.MushraPlayer = Player;
})();
