// The locus admin dashboard: live registrations, the registration chart,
// security state and server health, from the admin API (/api/v1/...) and
// its live feed (server-sent events at /api/v1/events).
//
// Every AOR, contact, User-Agent and address shown here was sent by
// someone on the network: the page is built with createElement and
// textContent only, never by parsing HTML.
'use strict';

(function () {
  // Bounds: how much the page loads and shows, so that a registrar with
  // a million bindings cannot make the tab unusable.
  const PAGE_LIMIT = 1000; // bindings per page asked of the API
  const MAX_PAGES = 20; // pages followed when loading the whole list
  const MAX_SEARCH_PAGES = 5; // pages followed for a server-side search
  const MAX_ROWS_SHOWN = 500; // table rows in the DOM at once
  const MAX_BLOCKED_SHOWN = 200; // blocked sources listed
  const HISTORY_MAX = 300; // chart samples kept (10 minutes at 2 s)
  const STATS_EVERY_MS = 5000;
  const SECURITY_EVERY_MS = 10000;
  const SEARCH_DEBOUNCE_MS = 300;
  const RENDER_DELAY_MS = 100;
  const FEED_OPEN_GRACE_MS = 3000; // list loaded anyway if the feed is slow to open
  const FEED_RETRY_MS = 5000;
  const EXPIRED_GRACE_MS = 5000; // a row past its expiry is dropped if no event came

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- DOM

  // el(tag, props, children): an element with className/text/title and
  // attributes set as text, and children appended (elements or strings,
  // which become text nodes).
  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      if (props.className) node.className = props.className;
      if (props.text !== undefined) node.textContent = String(props.text);
      if (props.title !== undefined) node.title = String(props.title);
      if (props.attrs) {
        for (const [name, value] of Object.entries(props.attrs)) {
          node.setAttribute(name, String(value));
        }
      }
    }
    for (const child of children || []) {
      node.append(child);
    }
    return node;
  }

  let noticeTimer = null;

  // notice(text, kind): a short message under the header ("error" stays
  // until the next one, others fade after a few seconds).
  function notice(text, kind) {
    const box = $('notice');
    box.textContent = text;
    box.className = 'notice' + (kind ? ' notice-' + kind : '');
    box.hidden = false;
    clearTimeout(noticeTimer);
    if (kind !== 'error') {
      noticeTimer = setTimeout(() => {
        box.hidden = true;
      }, 6000);
    }
  }

  // badge(id, text, kind): sets a status badge (kind: ok, warn, bad, muted).
  function badge(id, text, kind) {
    const b = $(id);
    b.textContent = text;
    b.className = 'badge badge-' + kind;
  }

  // ------------------------------------------------------------- format

  const numberFormat = new Intl.NumberFormat('en-US');

  function fmtNumber(n) {
    return typeof n === 'number' && Number.isFinite(n) ? numberFormat.format(n) : '–';
  }

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  // fmtDuration(seconds): "3 d 4 h", "2 h 05 min", "12 min 03 s", "42 s".
  function fmtDuration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    if (d > 0) return d + ' d ' + h + ' h';
    if (h > 0) return h + ' h ' + pad2(m) + ' min';
    if (m > 0) return m + ' min ' + pad2(sec) + ' s';
    return sec + ' s';
  }

  // fmtQ(q): a q-value with at most three decimals ("1", "0.5", "0.125").
  function fmtQ(q) {
    return typeof q === 'number' && Number.isFinite(q) ? String(Math.round(q * 1000) / 1000) : '–';
  }

  function fmtClock(unixMs) {
    const d = new Date(unixMs);
    return Number.isNaN(d.getTime())
      ? '–'
      : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
  }

  function text(value) {
    return value === null || value === undefined || value === '' ? '—' : String(value);
  }

  // ---------------------------------------------------------------- API

  let csrf = '';

  /** An answer of the API other than 2xx. */
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // sessionLost(): the session is gone (expired, server restarted):
  // loading "/" again shows the login page.
  function sessionLost() {
    window.location.replace('/');
  }

  // api(method, path, body): the JSON answer of the admin API; a change
  // carries the session's CSRF token. A 401 leaves for the login page.
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, {
      method: method,
      headers: headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      sessionLost();
      throw new ApiError(401, 'the session has ended');
    }
    const raw = await response.text();
    let data = null;
    if (raw !== '') {
      try {
        data = JSON.parse(raw);
      } catch (e) {
        data = null;
      }
    }
    if (!response.ok) {
      const why = data && typeof data.error === 'string' ? data.error : 'HTTP ' + response.status;
      throw new ApiError(response.status, why);
    }
    return data;
  }

  // ----------------------------------------------------------- bindings

  // The loaded bindings: AOR -> array of bindings, each with the local
  // time it expires at (`deadline`, from its seconds left: no clock skew).
  let bindings = new Map();
  // False when the list was too long to load whole (search then asks the
  // server).
  let complete = true;
  // A server-side search's result (AOR -> matching bindings), for
  // `serverTerm`, when the list is incomplete.
  let serverResults = null;
  let serverTerm = '';
  // Whether the server search's result is whole (not cut by the page bound).
  let serverComplete = true;
  // While a full load runs, feed events are also queued here and replayed
  // over the fresh list.
  let pendingEvents = null;
  let loadGeneration = 0;
  let everLoaded = false;

  function key(aor, contact) {
    return aor + '\n' + contact;
  }

  // normalize(b): the binding as the page keeps it, or null when it lacks
  // what a row needs.
  function normalize(b, receivedAt) {
    if (!b || typeof b.aor !== 'string' || typeof b.contact !== 'string') return null;
    const left = typeof b.expires === 'number' && Number.isFinite(b.expires) ? b.expires : 0;
    return {
      aor: b.aor,
      contact: b.contact,
      transport: typeof b.transport === 'string' ? b.transport : '',
      received: b.received,
      local: b.local,
      userAgent: typeof b.user_agent === 'string' ? b.user_agent : '',
      q: b.q,
      instance: b.instance,
      regId: b.reg_id,
      path: Array.isArray(b.path) ? b.path : [],
      callId: b.call_id,
      cseq: b.cseq,
      deadline: receivedAt + left * 1000,
    };
  }

  // setAor(map, aor, list): replaces `aor`'s bindings in `map` (raw API
  // objects; an empty list removes the AOR).
  function setAor(map, aor, list, receivedAt) {
    const rows = [];
    for (const b of list) {
      const n = normalize(b, receivedAt);
      if (n && n.aor === aor) rows.push(n);
    }
    if (rows.length === 0) map.delete(aor);
    else map.set(aor, rows);
  }

  function removeFrom(map, aor, contact) {
    const rows = map.get(aor);
    if (!rows) return;
    const kept = rows.filter((b) => b.contact !== contact);
    if (kept.length === 0) map.delete(aor);
    else map.set(aor, kept);
  }

  function countRows(map) {
    let n = 0;
    for (const rows of map.values()) n += rows.length;
    return n;
  }

  function matches(b, term) {
    return (
      b.aor.toLowerCase().includes(term) ||
      b.contact.toLowerCase().includes(term) ||
      b.userAgent.toLowerCase().includes(term)
    );
  }

  function searchTerm() {
    return $('search').value.trim().toLowerCase();
  }

  // fetchPages(params, maxPages): the bindings of up to maxPages pages of
  // GET /api/v1/bindings, and whether the last page was the end.
  async function fetchPages(params, maxPages) {
    const map = new Map();
    let cursor = null;
    for (let page = 0; page < maxPages; page++) {
      const q = new URLSearchParams(params);
      q.set('limit', String(PAGE_LIMIT));
      if (cursor) q.set('cursor', cursor);
      const receivedAt = Date.now();
      const answer = await api('GET', '/api/v1/bindings?' + q.toString());
      const list = answer && Array.isArray(answer.bindings) ? answer.bindings : [];
      for (const b of list) {
        const n = normalize(b, receivedAt);
        if (!n) continue;
        const rows = map.get(n.aor);
        if (rows) rows.push(n);
        else map.set(n.aor, [n]);
      }
      cursor = answer && typeof answer.next_cursor === 'string' ? answer.next_cursor : null;
      if (!cursor) return { map: map, done: true };
    }
    return { map: map, done: false };
  }

  // loadBindings(): (re)loads the whole list, bounded; feed events that
  // arrive meanwhile are replayed over it.
  async function loadBindings() {
    const generation = ++loadGeneration;
    pendingEvents = [];
    try {
      const { map, done } = await fetchPages({}, MAX_PAGES);
      if (generation !== loadGeneration) return;
      const queued = pendingEvents;
      pendingEvents = null;
      bindings = map;
      complete = done;
      for (const apply of queued) apply(bindings);
      everLoaded = true;
      scheduleRender();
      if (!complete && searchTerm() !== '') scheduleServerSearch();
    } catch (e) {
      if (generation !== loadGeneration) return;
      pendingEvents = null;
      if (e.status !== 401) notice('Cannot load the registrations: ' + e.message, 'error');
    }
  }

  // applyEvent(apply): applies a feed change to the list (and queues it
  // for a load in progress, and applies it to a server search's result).
  function applyEvent(apply) {
    apply(bindings);
    if (pendingEvents) pendingEvents.push(apply);
    if (serverResults) apply(serverResults, true);
    scheduleRender();
  }

  function onBindingEvent(data) {
    if (!data || typeof data.aor !== 'string' || !Array.isArray(data.bindings)) return;
    const receivedAt = Date.now();
    const aor = data.aor;
    applyEvent((map, searching) => {
      let list = data.bindings;
      if (searching) {
        list = list.filter((b) => {
          const n = normalize(b, receivedAt);
          return n && matches(n, serverTerm);
        });
      } else if (!complete && !map.has(aor) && countRows(map) >= PAGE_LIMIT * MAX_PAGES) {
        return; // an incomplete list stays bounded
      }
      setAor(map, aor, list, receivedAt);
    });
  }

  function onExpiredEvent(data) {
    if (!data || !Array.isArray(data.bindings)) return;
    applyEvent((map) => {
      for (const b of data.bindings) {
        if (b && typeof b.aor === 'string' && typeof b.contact === 'string') {
          removeFrom(map, b.aor, b.contact);
        }
      }
    });
  }

  let searchTimer = null;
  let searchGeneration = 0;

  function scheduleServerSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(serverSearch, SEARCH_DEBOUNCE_MS);
  }

  // serverSearch(): asks the store for the bindings matching the search
  // box (used when the list is too long to have been loaded whole).
  async function serverSearch() {
    const term = searchTerm();
    const generation = ++searchGeneration;
    if (complete || term === '') {
      serverResults = null;
      serverTerm = '';
      scheduleRender();
      return;
    }
    try {
      const { map, done } = await fetchPages({ search: term }, MAX_SEARCH_PAGES);
      if (generation !== searchGeneration) return;
      serverResults = map;
      serverTerm = term;
      serverComplete = done;
      scheduleRender();
    } catch (e) {
      if (generation === searchGeneration && e.status !== 401) {
        notice('Search failed: ' + e.message, 'error');
      }
    }
  }

  // removeBinding(b, button): DELETE of one contact of an AOR, after the
  // operator confirms.
  async function removeBinding(b, button) {
    const question = 'Remove the binding\n\n' + b.contact + '\n\nof ' + b.aor + '?';
    if (!window.confirm(question)) return;
    button.disabled = true;
    const path =
      '/api/v1/bindings/' + encodeURIComponent(b.aor) + '?contact=' + encodeURIComponent(b.contact);
    try {
      await api('DELETE', path);
      notice('Removed ' + b.contact + ' of ' + b.aor + '.', 'ok');
    } catch (e) {
      if (e.status === 404) {
        notice(b.contact + ' of ' + b.aor + ' was no longer registered.', 'ok');
      } else {
        if (e.status !== 401) notice('Remove failed: ' + e.message, 'error');
        button.disabled = false;
        return;
      }
    }
    applyEvent((map) => removeFrom(map, b.aor, b.contact));
  }

  // ---------------------------------------------------------- the table

  // The rows in the DOM, by binding key: {b, tr, expires} (a new binding
  // object, from an event or a load, gets a new row).
  let rowCache = new Map();
  let renderTimer = null;

  function scheduleRender() {
    if (renderTimer === null) {
      renderTimer = setTimeout(() => {
        renderTimer = null;
        renderBindings();
      }, RENDER_DELAY_MS);
    }
  }

  function compareRows(a, b) {
    if (a.aor !== b.aor) return a.aor < b.aor ? -1 : 1;
    const qa = typeof a.q === 'number' ? a.q : 0;
    const qb = typeof b.q === 'number' ? b.q : 0;
    if (qa !== qb) return qb - qa;
    return a.contact < b.contact ? -1 : a.contact > b.contact ? 1 : 0;
  }

  function buildRow(b) {
    const expires = el('td', { className: 'num expires' });
    const remove = el('button', {
      className: 'danger small',
      text: 'remove',
      attrs: { type: 'button', 'aria-label': 'Remove ' + b.contact + ' of ' + b.aor },
    });
    remove.addEventListener('click', () => removeBinding(b, remove));
    const received = b.received === null || b.received === undefined ? '' : String(b.received);
    const receivedTitle = b.local ? 'received from ' + received + ' on ' + b.local : received;
    const contactCell = el('td', { className: 'mono wrap', title: b.contact }, [b.contact]);
    if (b.instance) {
      contactCell.append(el('span', { className: 'sub', text: 'instance ' + b.instance }));
    }
    if (b.path.length > 0) {
      contactCell.append(el('span', { className: 'sub', text: 'via ' + b.path.join(', ') }));
    }
    const tr = el('tr', null, [
      el('td', { className: 'mono wrap', text: b.aor, title: b.aor }),
      contactCell,
      el('td', null, [el('span', { className: 'tag', text: text(b.transport).toUpperCase() })]),
      el('td', { className: 'mono', text: text(b.received), title: receivedTitle }),
      el('td', { className: 'wrap ua', text: text(b.userAgent), title: b.userAgent }),
      expires,
      el('td', { className: 'num', text: fmtQ(b.q) }),
      el('td', { className: 'actions' }, [remove]),
    ]);
    const entry = { b: b, tr: tr, expires: expires };
    updateExpires(entry, Date.now());
    return entry;
  }

  function updateExpires(entry, now) {
    const left = entry.b.deadline - now;
    const label = left <= 0 ? 'expired' : fmtDuration(left / 1000);
    if (entry.expires.textContent !== label) entry.expires.textContent = label;
    const soon = left < 60000;
    if (entry.tr.classList.contains('expiring') !== soon) entry.tr.classList.toggle('expiring', soon);
  }

  function renderBindings() {
    const term = searchTerm();
    const useServer = serverResults !== null && term !== '' && term === serverTerm;
    const source = useServer ? serverResults : bindings;
    const rows = [];
    for (const list of source.values()) {
      for (const b of list) {
        if (term === '' || matches(b, term)) rows.push(b);
      }
    }
    rows.sort(compareRows);
    const shown = rows.slice(0, MAX_ROWS_SHOWN);
    const cache = new Map();
    const trs = [];
    for (const b of shown) {
      const k = key(b.aor, b.contact);
      let entry = rowCache.get(k);
      if (!entry || entry.b !== b) entry = buildRow(b);
      cache.set(k, entry);
      trs.push(entry.tr);
    }
    rowCache = cache;
    // Rows already in place stay (with their focus); others move in.
    const body = $('bindings-rows');
    trs.forEach((tr, i) => {
      const current = body.children[i];
      if (current !== tr) body.insertBefore(tr, current || null);
    });
    while (body.children.length > trs.length) body.lastElementChild.remove();

    $('bindings-empty').hidden = rows.length > 0 || !everLoaded;
    $('bindings-empty').textContent = term === '' ? 'No registrations.' : 'No registration matches.';
    let aorCount = 0;
    for (const list of source.values()) if (list.some((b) => term === '' || matches(b, term))) aorCount++;
    const total = term !== '' ? 'matching' : complete ? 'registered' : 'loaded';
    $('bindings-count').textContent = everLoaded
      ? fmtNumber(rows.length) + ' ' + (rows.length === 1 ? 'binding' : 'bindings') + ' of ' +
        fmtNumber(aorCount) + ' ' + (aorCount === 1 ? 'AOR' : 'AORs') + ' ' + total
      : 'loading…';
    const more = [];
    if (rows.length > shown.length) {
      more.push('Showing the first ' + fmtNumber(shown.length) + '; refine the filter to see the others.');
    }
    if (!complete) {
      more.push(
        useServer
          ? 'Searched on the server' + (serverComplete ? '.' : ' (first pages only).')
          : 'The list is long: only the first ' + fmtNumber(countRows(bindings)) +
            ' bindings are loaded; the filter searches the server.',
      );
    }
    $('bindings-more').textContent = more.join(' ');
    $('bindings-more').hidden = more.length === 0;
  }

  // tickRows(): the countdowns; rows long past their expiry (their event
  // lost) are dropped.
  function tickRows() {
    const now = Date.now();
    let stale = false;
    for (const entry of rowCache.values()) {
      updateExpires(entry, now);
      if (entry.b.deadline + EXPIRED_GRACE_MS < now) stale = true;
    }
    if (stale) {
      const drop = (map) => {
        for (const [aor, list] of map) {
          const kept = list.filter((b) => b.deadline + EXPIRED_GRACE_MS >= now);
          if (kept.length === 0) map.delete(aor);
          else if (kept.length !== list.length) map.set(aor, kept);
        }
      };
      drop(bindings);
      if (serverResults) drop(serverResults);
      scheduleRender();
    }
  }

  // -------------------------------------------------------------- chart

  let history = [];
  let intervalSeconds = 2;
  let clockSkewMs = 0; // server clock minus ours, from the newest sample

  function addSample(s, receivedAt) {
    if (!s || typeof s.t !== 'number') return;
    const last = history[history.length - 1];
    if (last && s.t <= last.t) {
      if (s.t === last.t) history[history.length - 1] = s;
    } else {
      history.push(s);
    }
    if (history.length > HISTORY_MAX) history.splice(0, history.length - HISTORY_MAX);
    if (receivedAt !== undefined) clockSkewMs = s.t - receivedAt;
  }

  async function loadHistory() {
    try {
      const h = await api('GET', '/api/v1/stats/history');
      if (h && typeof h.interval_seconds === 'number' && h.interval_seconds > 0) {
        intervalSeconds = h.interval_seconds;
      }
      const samples = h && Array.isArray(h.samples) ? h.samples : [];
      const live = history;
      history = [];
      for (const s of samples) addSample(s);
      for (const s of live) addSample(s);
      if (samples.length > 0) clockSkewMs = samples[samples.length - 1].t - Date.now();
      drawChart();
    } catch (e) {
      if (e.status !== 401) notice('Cannot load the statistics history: ' + e.message, 'error');
    }
  }

  function cssVar(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  // niceCeil(v): the smallest 1, 2 or 5 times a power of ten that is >= v.
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function fmtRate(v) {
    if (v === 0) return '0';
    if (v >= 100) return String(Math.round(v));
    if (v >= 10) return v.toFixed(0);
    if (v >= 1) return v.toFixed(1).replace(/\.0$/, '');
    return v.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
  }

  const SERIES = [
    { field: 'register_ok', color: '--chart-ok', fill: true, label: 'registered' },
    { field: 'register_failed', color: '--chart-failed', fill: false, label: 'rejected' },
    { field: 'auth_failures', color: '--chart-auth', fill: false, label: 'auth failures' },
  ];

  // drawChart(): the registration rate (per second) of each series over
  // the last HISTORY_MAX intervals; gaps where samples are missing.
  function drawChart() {
    const canvas = $('chart');
    const wrap = canvas.parentElement;
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(200, wrap.clientWidth);
    const height = Math.max(120, wrap.clientHeight);
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const fg = cssVar('--chart-text', '#8b949e');
    const grid = cssVar('--chart-grid', '#30363d');
    const font = '11px ' + cssVar('--font-ui', 'system-ui, sans-serif');
    const left = 44;
    const right = 10;
    const top = 10;
    const bottom = 22;
    const plotW = width - left - right;
    const plotH = height - top - bottom;

    // The window grows with the history, from 2 minutes to all of it.
    const end = history.length > 0 ? history[history.length - 1].t : Date.now() + clockSkewMs;
    const full = HISTORY_MAX * intervalSeconds * 1000;
    const have = history.length > 0 ? end - history[0].t : 0;
    const span = Math.min(full, Math.max(120000, have));
    const start = end - span;
    const samples = history.filter((s) => s.t >= start);
    const minutes = Math.round(span / 60000);
    $('chart-window').textContent = 'last ' + minutes + ' minutes, per second';

    let peak = 0;
    for (const s of samples) {
      for (const series of SERIES) {
        const v = Number(s[series.field]) / intervalSeconds;
        if (v > peak) peak = v;
      }
    }
    // Four or so round steps (1, 2 or 5 times a power of ten) up to the peak.
    const step = peak > 0 ? niceCeil(peak / 4) : 0.25;
    const steps = Math.max(1, Math.ceil(peak / step - 1e-9));
    const yMax = step * steps;
    const x = (t) => left + ((t - start) / span) * plotW;
    const y = (v) => top + plotH - (v / yMax) * plotH;

    ctx.font = font;
    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = fg;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= steps; i++) {
      const v = step * i;
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, py);
      ctx.lineTo(left + plotW, py);
      ctx.stroke();
      ctx.fillText(fmtRate(v) + '/s', left - 6, py);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const tickEvery = minutes > 6 ? 2 : 1;
    for (let m = 0; m * 60000 <= span; m += tickEvery) {
      const t = end - m * 60000;
      const px = Math.round(x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, top + plotH);
      ctx.lineTo(px, top + plotH + 4);
      ctx.stroke();
      ctx.textAlign = m === 0 ? 'right' : x(t) - left < 24 ? 'left' : 'center';
      ctx.fillText(m === 0 ? 'now' : '−' + m + ' min', m === 0 ? px + 4 : px, top + plotH + 6);
    }

    if (samples.length < 2) {
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText('waiting for samples…', left + plotW / 2, top + plotH / 2);
      canvas.setAttribute('aria-label', 'Registration rate and failures: no data yet');
      return;
    }

    const maxGap = intervalSeconds * 1000 * 2.5;
    for (const series of SERIES) {
      const color = cssVar(series.color, '#3fb950');
      // Runs of samples without a gap, each drawn as one line.
      const runs = [];
      let run = [];
      let prev = null;
      for (const s of samples) {
        if (prev && s.t - prev.t > maxGap) {
          runs.push(run);
          run = [];
        }
        const v = Number(s[series.field]);
        run.push([x(s.t), y(Number.isFinite(v) ? Math.max(0, v) / intervalSeconds : 0)]);
        prev = s;
      }
      runs.push(run);
      for (const points of runs) {
        if (points.length === 0) continue;
        if (series.fill && points.length > 1) {
          ctx.beginPath();
          ctx.moveTo(points[0][0], top + plotH);
          for (const [px, py] of points) ctx.lineTo(px, py);
          ctx.lineTo(points[points.length - 1][0], top + plotH);
          ctx.closePath();
          ctx.globalAlpha = 0.18;
          ctx.fillStyle = color;
          ctx.fill();
          ctx.globalAlpha = 1;
        }
        ctx.beginPath();
        ctx.strokeStyle = color;
        ctx.lineWidth = 1.75;
        ctx.lineJoin = 'round';
        points.forEach(([px, py], i) => (i === 0 ? ctx.moveTo(px, py) : ctx.lineTo(px, py)));
        if (points.length === 1) ctx.lineTo(points[0][0] + 1, points[0][1]);
        ctx.stroke();
      }
    }

    const last = samples[samples.length - 1];
    const now = SERIES.map(
      (s) => fmtRate(Math.max(0, Number(last[s.field]) || 0) / intervalSeconds) + '/s ' + s.label,
    );
    canvas.setAttribute(
      'aria-label',
      'Registration rate over the last ' + minutes + ' minutes; latest: ' + now.join(', ') +
        '; peak ' + fmtRate(peak) + '/s.',
    );
  }

  // --------------------------------------------------------- statistics

  let uptimeBase = null; // [uptime seconds, local ms when read]

  async function refreshStats() {
    let s;
    try {
      s = await api('GET', '/api/v1/stats');
    } catch (e) {
      if (e.status !== 401) badge('badge-store', 'server unreachable', 'bad');
      return;
    }
    if (!s) return;
    $('version').textContent = typeof s.version === 'string' ? 'v' + s.version : '';
    const store = s.store || {};
    if (store.healthy) {
      badge('badge-store', 'store ok', 'ok');
      $('store-error').hidden = true;
    } else {
      badge('badge-store', 'store failing', 'bad');
      $('store-error').textContent = 'Location store: ' + text(store.error);
      $('store-error').hidden = false;
    }
    if (s.draining) badge('badge-drain', 'draining', 'warn');
    else badge('badge-drain', 'serving', 'ok');
    $('stat-bindings').textContent = fmtNumber(s.bindings);
    $('stat-aors').textContent = fmtNumber(s.aors);
    $('stat-inflight').textContent = fmtNumber(s.in_flight);
    $('stat-tcp').textContent = fmtNumber(s.tcp_connections);
    $('stat-blocked').textContent = fmtNumber(s.blocked_sources);
    const reg = s.register || {};
    let failed = 0;
    for (const [name, n] of Object.entries(reg)) {
      if (name !== 'ok' && name !== 'challenge' && typeof n === 'number') failed += n;
    }
    $('stat-register').textContent = fmtNumber(reg.ok) + ' / ' + fmtNumber(failed);
    if (typeof s.uptime_seconds === 'number') uptimeBase = [s.uptime_seconds, Date.now()];
    tickUptime();
    $('listeners').textContent = Array.isArray(s.listeners) ? s.listeners.join(', ') || '–' : '–';
  }

  function tickUptime() {
    if (uptimeBase) {
      $('stat-uptime').textContent = fmtDuration(uptimeBase[0] + (Date.now() - uptimeBase[1]) / 1000);
    }
  }

  // ----------------------------------------------------------- security

  const COUNTER_NAMES = {
    locus_auth_challenges_total: 'Challenges sent',
    locus_auth_failures_total: 'Authentication failures',
    locus_auth_stale_total: 'Stale nonces',
    locus_auth_replays_total: 'Replayed nonces',
    locus_auth_forbidden_total: 'Forbidden (other AOR)',
    locus_abuse_blocks_total: 'Sources blocked',
    locus_abuse_blocked_requests_total: 'Requests dropped (blocked)',
    locus_abuse_throttled_requests_total: 'Requests throttled',
  };

  let blocked = []; // [{source, until, left cell}]

  async function refreshSecurity() {
    let s;
    try {
      s = await api('GET', '/api/v1/security');
    } catch (e) {
      return;
    }
    if (!s) return;
    const counters = s.counters && typeof s.counters === 'object' ? s.counters : {};
    // The known counters in their order, then any others by name.
    const order = Object.keys(COUNTER_NAMES);
    const rank = (n) => (order.includes(n) ? order.indexOf(n) : order.length);
    const names = Object.keys(counters).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
    $('security-counters').replaceChildren(
      ...names.map((name) => {
        const label = Object.prototype.hasOwnProperty.call(COUNTER_NAMES, name)
          ? COUNTER_NAMES[name]
          : name;
        const value = counters[name];
        const cls = name === 'locus_auth_failures_total' && value > 0 ? 'num alert' : 'num';
        return el('tr', null, [
          el('th', { text: label, title: name, attrs: { scope: 'row' } }),
          el('td', { className: cls, text: typeof value === 'number' ? fmtNumber(value) : text(value) }),
        ]);
      }),
    );

    const list = Array.isArray(s.blocked) ? s.blocked : [];
    const sorted = list
      .filter((b) => b && typeof b.until === 'number')
      .sort((a, b) => a.until - b.until);
    blocked = [];
    const rows = sorted.slice(0, MAX_BLOCKED_SHOWN).map((b) => {
      const left = el('td', { className: 'num' });
      const entry = { until: b.until, left: left };
      blocked.push(entry);
      updateBlocked(entry, Date.now());
      return el('tr', null, [
        el('td', { className: 'mono', text: text(b.source) }),
        el('td', { text: fmtClock(b.until - clockSkewMs) }),
        left,
      ]);
    });
    if (sorted.length > rows.length) {
      rows.push(
        el('tr', null, [
          el('td', {
            className: 'muted',
            text: 'and ' + fmtNumber(sorted.length - rows.length) + ' more',
            attrs: { colspan: 3 },
          }),
        ]),
      );
    }
    $('blocked-rows').replaceChildren(...rows);
    $('blocked-empty').hidden = sorted.length > 0;
  }

  function updateBlocked(entry, now) {
    const left = entry.until - (now + clockSkewMs);
    entry.left.textContent = left <= 0 ? 'ended' : fmtDuration(left / 1000);
  }

  // ---------------------------------------------------------- live feed

  let feed = null; // the current EventSource
  let feedOpenTimer = null;

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (e) {
      return null;
    }
  }

  // connectFeed(): subscribes to /api/v1/events. Each time the feed
  // (re)opens, the list is loaded again (nothing missed in between).
  function connectFeed() {
    badge('badge-live', 'connecting', 'muted');
    const source = new EventSource('/api/v1/events');
    feed = source;
    clearTimeout(feedOpenTimer);
    feedOpenTimer = setTimeout(() => {
      if (!everLoaded) loadBindings();
    }, FEED_OPEN_GRACE_MS);
    source.addEventListener('open', () => {
      clearTimeout(feedOpenTimer);
      badge('badge-live', 'live', 'ok');
      loadBindings();
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        badge('badge-live', 'offline', 'bad');
        source.close();
        if (feed === source) setTimeout(reconnectFeed, FEED_RETRY_MS);
      } else {
        badge('badge-live', 'reconnecting', 'warn');
      }
    });
    source.addEventListener('binding', (e) => onBindingEvent(parse(e)));
    source.addEventListener('expired', (e) => onExpiredEvent(parse(e)));
    source.addEventListener('stats', (e) => {
      const s = parse(e);
      addSample(s, Date.now());
      if (s && typeof s.bindings === 'number') $('stat-bindings').textContent = fmtNumber(s.bindings);
      if (s && typeof s.blocked_sources === 'number') {
        $('stat-blocked').textContent = fmtNumber(s.blocked_sources);
      }
      drawChart();
    });
    source.addEventListener('lagged', () => {
      loadBindings();
      loadHistory();
    });
  }

  // reconnectFeed(): after the feed was refused: back to the login page
  // if the session ended, else subscribe again.
  async function reconnectFeed() {
    try {
      await api('GET', '/api/v1/session');
    } catch (e) {
      if (e.status === 401) return;
    }
    connectFeed();
  }

  // --------------------------------------------------------------- start

  async function logout() {
    try {
      await api('DELETE', '/api/v1/session');
    } catch (e) {
      // Leaving anyway: the login page shows whether the session ended.
    }
    sessionLost();
  }

  async function start() {
    try {
      const session = await api('GET', '/api/v1/session');
      csrf = session && typeof session.csrf === 'string' ? session.csrf : '';
    } catch (e) {
      if (e.status !== 401) notice('Cannot reach the server: ' + e.message, 'error');
      return;
    }
    $('logout').addEventListener('click', logout);
    $('search').addEventListener('input', () => {
      scheduleRender();
      if (!complete) scheduleServerSearch();
    });
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => drawChart()).observe($('chart').parentElement);
    } else {
      window.addEventListener('resize', drawChart);
    }
    connectFeed();
    renderBindings();
    drawChart();
    refreshStats();
    refreshSecurity();
    loadHistory();
    setInterval(refreshStats, STATS_EVERY_MS);
    setInterval(refreshSecurity, SECURITY_EVERY_MS);
    setInterval(() => {
      const now = Date.now();
      tickRows();
      tickUptime();
      for (const entry of blocked) updateBlocked(entry, now);
    }, 1000);
  }

  start();
})();
