// terok-web's pages: every page is filled here from the public REST API
// (/api/v1/...) and the events WebSocket, with the session cookie and the
// CSRF header on mutations. No framework; DOM built with el() (never
// innerHTML with data), so names and log lines cannot inject markup.
'use strict';

const C = JSON.parse(document.getElementById('terok-config').textContent);
const API = C.base + '/api/v1';

// ---- small helpers

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}
// fill replaces n's children, skipping empty ones.
const fill = (n, ...kids) => n.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
const $ = (s, root) => (root || document).querySelector(s);
const app = () => document.getElementById('app');
const link = (path, text, attrs) => el('a', Object.assign({href: C.base + path}, attrs || {}), text);
const short = (h) => (h || '').replace(/^sha256:/, '').slice(0, 8);

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || ('HTTP ' + status));
    this.status = status;
    this.detail = body && body.detail;
  }
}

async function api(method, path, body) {
  const opt = {method, credentials: 'same-origin', headers: {}};
  if (method !== 'GET') opt.headers['X-Terok-CSRF'] = C.csrf;
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(API + path, opt);
  if (r.status === 401) {
    location.href = C.base + '/login?next=' + encodeURIComponent(location.pathname.slice(C.base.length) + location.search);
    throw new APIError(401, {error: 'logged out'});
  }
  const ct = r.headers.get('Content-Type') || '';
  const data = ct.includes('json') ? await r.json().catch(() => null) : await r.text();
  if (!r.ok) throw new APIError(r.status, typeof data === 'object' ? data : {error: data});
  return data;
}
const get = (p) => api('GET', p);
const post = (p, b) => api('POST', p, b === undefined ? {} : b);

// stream reads a streaming response line by line until it ends or
// signal aborts; init adds to the request (a POST: method and headers).
async function stream(path, onLine, signal, init) {
  const r = await fetch(API + path, {credentials: 'same-origin', signal, ...init});
  if (!r.ok) {
    const b = await r.json().catch(() => ({error: 'HTTP ' + r.status}));
    throw new APIError(r.status, b);
  }
  const rd = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const {value, done} = await rd.read();
    if (done) break;
    buf += dec.decode(value, {stream: true});
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  if (buf) onLine(buf);
}

// busy runs fn with btn disabled and showing progress; errors go to out.
async function busy(btn, label, fn, out) {
  const old = btn.textContent;
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  btn.textContent = label;
  btn.classList.add('busy');
  if (out) fill(out, );
  try {
    return await fn();
  } catch (e) {
    if (out) fill(out, errBox(e));
    else alertProblem(e);
  } finally {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
    btn.classList.remove('busy');
    btn.textContent = old;
  }
}

function errBox(e, what) {
  return el('div', {class: 'error', role: 'alert'},
    el('strong', {}, what ? what + ': ' : ''), e.message,
    e.detail && e.detail !== e.message ? el('span', {class: 'muted'}, ' (' + e.detail + ')') : null);
}
function alertProblem(e) {
  document.getElementById('problems').append(errBox(e));
}

function ago(t) {
  if (!t) return '';
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  return dur(s) + ' ago';
}
// agoEl shows ago(t) and keeps it current (the ticker below).
function agoEl(t) {
  if (!t) return '';
  return el('span', {class: 'ago', dataset: {ago: new Date(t).toISOString()}}, ago(t));
}
setInterval(() => {
  for (const e of document.querySelectorAll('[data-ago]')) {
    const a = ago(e.dataset.ago);
    if (e.textContent !== a) e.textContent = a;
  }
}, 1000);
function dur(s) {
  if (s < 60) return Math.round(s) + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  if (s < 86400) return (s / 3600).toFixed(1) + ' h';
  return (s / 86400).toFixed(1) + ' d';
}
const when = (t) => t ? new Date(t).toLocaleString() : '—';
const badge = (state) => el('span', {class: 'badge s-' + String(state).toLowerCase(), dataset: {state}}, state);

function card(title, ...kids) {
  return el('section', {class: 'card', 'aria-label': title}, el('h2', {}, title), ...kids);
}

// dialog asks for confirmation in the page (keyboard: Enter/Esc).
function confirmDialog(title, text, yes) {
  return new Promise((resolve) => {
    const d = el('dialog', {class: 'confirm', 'aria-label': title},
      el('h2', {}, title), el('p', {}, text),
      el('div', {class: 'row'},
        el('button', {class: 'danger', id: 'confirm-yes', onclick: () => { d.close(); resolve(true); }}, yes),
        el('button', {onclick: () => { d.close(); resolve(false); }}, 'Cancel')));
    d.addEventListener('cancel', () => resolve(false));
    d.addEventListener('close', () => d.remove());
    document.body.append(d);
    d.showModal();
  });
}

// ---- events WebSocket, shared by the pages

const events = {
  handlers: new Set(),
  logs: [],
  ws: null,
  tries: 0,
  start() {
    const live = document.getElementById('live');
    const u = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + API + '/events';
    let ws;
    try { ws = new WebSocket(u); } catch (e) { live.textContent = 'offline'; return; }
    this.ws = ws;
    ws.onopen = () => {
      this.tries = 0;
      live.textContent = 'live';
      live.className = 'live on';
      if (this.logs.length) ws.send(JSON.stringify({logs: this.logs}));
    };
    ws.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      for (const h of this.handlers) h(ev);
    };
    ws.onclose = () => {
      live.textContent = 'reconnecting…';
      live.className = 'live off';
      // Bounded backoff; a page reload starts afresh.
      if (this.tries++ < 40) setTimeout(() => this.start(), Math.min(10000, 500 * this.tries));
      else live.textContent = 'offline: reload the page';
    };
  },
  on(h) { this.handlers.add(h); },
};

// ---- ANSI colours (SGR) to spans

const ANSI_RE = /\x1b\[([0-9;]*)([A-Za-z])/g;
function ansiLine(text) {
  const frag = document.createDocumentFragment();
  let cls = [], last = 0, m;
  const push = (s) => {
    if (!s) return;
    frag.append(cls.length ? el('span', {class: cls.join(' ')}, s) : document.createTextNode(s));
  };
  ANSI_RE.lastIndex = 0;
  while ((m = ANSI_RE.exec(text))) {
    push(text.slice(last, m.index));
    last = ANSI_RE.lastIndex;
    if (m[2] !== 'm') continue;
    const codes = m[1] === '' ? [0] : m[1].split(';').map(Number);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) cls = [];
      else if (c === 1) cls.push('a-b');
      else if (c === 3) cls.push('a-i');
      else if (c === 4) cls.push('a-u');
      else if (c >= 30 && c <= 37) { cls = cls.filter((x) => !x.startsWith('a-f')); cls.push('a-f' + (c - 30)); }
      else if (c >= 90 && c <= 97) { cls = cls.filter((x) => !x.startsWith('a-f')); cls.push('a-f' + (c - 90 + 8)); }
      else if (c === 39) cls = cls.filter((x) => !x.startsWith('a-f'));
      else if (c >= 40 && c <= 47) { cls = cls.filter((x) => !x.startsWith('a-g')); cls.push('a-g' + (c - 40)); }
      else if (c === 49) cls = cls.filter((x) => !x.startsWith('a-g'));
      else if (c === 38 || c === 48) i += codes[i + 1] === 5 ? 2 : 4; // 256/true colour: skipped
    }
  }
  push(text.slice(last).replace(/\x1b\][^\x07]*\x07|\r/g, ''));
  return frag;
}

// ---- pages

const pages = {};

// Overview: problems, then what needs the user (work.js), running
// tasks, projects, panic; daemons and images below.
pages.overview = async function () {
  const workBox = el('div', {id: 'work'});
  const daemonsBox = el('div', {id: 'daemons'}, el('p', {class: 'muted'}, 'Loading…'));
  const projectsBox = el('div', {id: 'projects'});
  const tasksBox = el('div', {id: 'running'});
  const panicOut = el('div', {id: 'panic-result', 'aria-live': 'polite'});
  const panicBtn = el('button', {class: 'danger', id: 'panic'}, 'Block all egress');
  const restoreBtn = el('button', {id: 'panic-restore'}, 'Restore: shield up for every running task');
  const imagesBox = el('div', {id: 'images'});
  const importForm = imageImport(() => loadImages());
  async function loadImages() {
    try {
      const all = await get('/images');
      const ims = all.filter((im) => (im.names || []).length);
      const untagged = all.length - ims.length;
      fill(imagesBox, ims.length === 0 ? el('p', {class: 'muted'}, 'No images yet: import a root filesystem below, or terok image import.') :
        el('table', {class: 'list'},
          el('thead', {}, el('tr', {}, el('th', {}, 'Image'), el('th', {}, 'Size'), el('th', {}, 'Created'))),
          el('tbody', {}, ims.map((im) => el('tr', {dataset: {image: (im.names || [])[0] || im.id}},
            el('td', {class: 'mono'}, (im.names || []).join(', ') || short(im.id)),
            el('td', {}, mb(im.size)), el('td', {class: 'muted'}, im.created ? agoEl(im.created * 1000) : '')))),
          untagged ? el('caption', {class: 'muted'}, `and ${untagged} untagged image(s) (replaced by re-imports)`) : null));
    } catch (e) { fill(imagesBox, errBox(e)); }
  }
  loadImages();
  fill(app(), workBox,
    el('div', {class: 'grid'},
      card('Running tasks', tasksBox),
      card('Projects', projectsBox, el('p', {}, link('/new-project', 'New project', {class: 'button'}))),
      card('Daemons', daemonsBox),
      card('Panic button',
        el('p', {}, 'Sets every running task\u2019s shield to block at once: no task reaches the network until you restore it. The way back: the Restore button below, or the shield panel of each task.'),
        el('div', {class: 'row'}, panicBtn, restoreBtn), panicOut),
      card('Images', imagesBox, importForm)));

  let running = [];
  panicBtn.onclick = async () => {
    if (!await confirmDialog('Block all egress?', 'Every running task\u2019s shield goes to block now. Tasks stay running but reach nothing until you restore them.', 'Block everything')) return;
    await busy(panicBtn, 'Blocking…', async () => {
      const r = await post('/shield/panic');
      fill(panicOut, el('p', {class: 'ok'}, `Blocked ${(r.blocked || []).length} container(s).`),
        (r.failed || []).length ? el('p', {class: 'error'}, 'Failed: ' + r.failed.join(', ')) : null);
    }, panicOut);
  };
  restoreBtn.onclick = () => busy(restoreBtn, 'Restoring…', async () => {
    const errs = [];
    let n = 0;
    for (const t of running) {
      try { await post(`/tasks/${t.id}/shield/mode`, {mode: 'up'}); n++; } catch (e) { errs.push(t.id + ': ' + e.message); }
    }
    fill(panicOut, el('p', {class: 'ok'}, `Shield up again for ${n} task(s).`),
      errs.length ? el('p', {class: 'error'}, errs.join('; ')) : null);
  }, panicOut);

  const problems = document.getElementById('problems');
  async function load() {
    loadWork(workBox, () => schedule());
    const [ds, ps, ts, h] = await Promise.all([
      get('/daemons').catch((e) => e), get('/projects').catch((e) => e),
      get('/tasks').catch((e) => e), get('/health').catch((e) => e)]);
    const probs = [];
    if (ds instanceof Error) {
      probs.push([`The supervisor does not answer: ${ds.message}`, 'Check that terok-supervisord runs (make run, or the container\u2019s logs).']);
      fill(daemonsBox, errBox(ds));
    } else {
      for (const d of ds) {
        if (d.state !== 'RUNNING') probs.push([`${d.name} is ${d.state}${d.description ? ' (' + d.description + ')' : ''}.`, el('span', {}, 'Restart it below, and read ', link('/daemons?name=' + encodeURIComponent(d.name), 'its log'), ' for why.')]);
        else if (d.problem) probs.push([`${d.name} runs but cannot do its job: ${d.problem}`, el('span', {}, 'A restart does not help while the cause stays; ', link('/daemons?name=' + encodeURIComponent(d.name), 'its log'), ' has the details.')]);
      }
      fill(daemonsBox, el('table', {class: 'list'},
        el('thead', {}, el('tr', {}, el('th', {}, 'Daemon'), el('th', {}, 'State'), el('th', {}, 'Uptime / detail'), el('th', {}, ''))),
        el('tbody', {}, ds.map((d) => {
          const btn = el('button', {class: 'small', 'aria-label': 'Restart ' + d.name}, 'Restart');
          const row = el('tr', {dataset: {daemon: d.name, state: d.state, pid: String(d.pid || 0)}},
            el('td', {}, link('/daemons?name=' + encodeURIComponent(d.name), d.name)), el('td', {}, badge(d.state)),
            el('td', {class: 'muted'}, d.description || ''), el('td', {}, btn));
          btn.onclick = () => busy(btn, 'Restarting…', async () => {
            row.querySelector('td:nth-child(2)').replaceChildren(badge('RESTARTING'));
            await post(`/daemons/${encodeURIComponent(d.name)}/restart`);
            await load();
          });
          return row;
        }))));
    }
    if (h instanceof Error) {
      probs.push([`terok-web\u2019s health check failed: ${h.message}`, 'Reload; if it stays, restart terok-web.']);
    } else if (h.details) {
      const said = ds instanceof Error ? new Set() : new Set(ds.filter((d) => d.problem).map((d) => d.name));
      for (const [k, v] of Object.entries(h.details)) {
        if (v !== 'ok' && typeof v === 'string') {
          if (k === 'podman' && said.has('podman-service')) continue; // shown above, with its cause
          const fix = k === 'podman' ? el('span', {}, 'Tasks cannot start. Read ', link('/daemons?name=podman-service', 'podman-service\u2019s log'), '; podman-service check (as the Podman user) lists what the machine lacks.') : `Restart ${k} below and read its log.`;
          probs.push([`${k}: ${v}`, fix]);
        }
      }
    }
    fill(problems, ...probs.map(([what, fix]) => el('div', {class: 'problem', role: 'alert'}, el('strong', {}, what), ' ', fix)));
    if (ps instanceof Error) fill(projectsBox, errBox(ps));
    else if (!(ts instanceof Error)) {
      fill(projectsBox, ps.length === 0 ? el('p', {class: 'muted'}, 'No projects yet.') :
        el('table', {class: 'list'},
          el('thead', {}, el('tr', {}, el('th', {}, 'Project'), el('th', {}, 'Class'), el('th', {}, 'Running'), el('th', {}, 'Tasks'))),
          el('tbody', {}, ps.map((p) => {
            const mine = ts.filter((t) => t.project === p.name);
            return el('tr', {dataset: {project: p.name}}, el('td', {}, link('/project/' + encodeURIComponent(p.name), p.name)),
              el('td', {}, p.security_class || 'gatekeeping'),
              el('td', {}, String(mine.filter((t) => !ended(t.state)).length)), el('td', {}, String(mine.length)));
          }))));
    }
    if (ts instanceof Error) fill(tasksBox, errBox(ts));
    else {
      running = ts.filter((t) => !ended(t.state));
      fill(tasksBox, taskTable(running, 'No task is running.'));
    }
  }
  await load();
  events.on((ev) => { if (ev.type === 'task' || ev.type === 'daemon') schedule(); });
  let timer = null;
  const schedule = () => { if (!timer) timer = setTimeout(() => { timer = null; load(); }, 300); };
  setInterval(schedule, 5000);
};

const ended = (s) => s === 'exited' || s === 'failed' || s === 'stopped';
// mb shows a size in binary units, named so (MiB, GiB).
const mb = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + ' GiB' : (n / (1 << 20)).toFixed(1) + ' MiB';

// imageImport is the form that uploads a root filesystem tarball as an
// image (POST /images?name=), with the upload's progress and then Podman's
// import shown until it answers.
function imageImport(done) {
  const name = el('input', {id: 'image-name', placeholder: 'name, e.g. localhost/mine:latest', autocomplete: 'off', 'aria-label': 'Image name'});
  const file = el('input', {id: 'image-file', type: 'file', accept: '.tar,application/x-tar', 'aria-label': 'Root filesystem tarball'});
  const btn = el('button', {type: 'submit', id: 'image-import'}, 'Import');
  const bar = el('progress', {id: 'image-progress', max: 100, value: 0, hidden: true});
  const out = el('div', {id: 'image-result', 'aria-live': 'polite'});
  const f = el('form', {class: 'form'}, el('label', {for: 'image-file'}, 'Import a root filesystem (tar)'),
    el('div', {class: 'row'}, name, file, btn), bar, out);
  f.onsubmit = (ev) => {
    ev.preventDefault();
    fill(out);
    if (!name.value.trim()) { fill(out, errBox(new Error('Name the image, e.g. localhost/mine:latest.'))); name.focus(); return; }
    if (!file.files.length) { fill(out, errBox(new Error('Pick a tarball of a root filesystem (tar -C rootfs -c .).'))); file.focus(); return; }
    busy(btn, 'Uploading…', () => new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.open('POST', `${API}/images?name=${encodeURIComponent(name.value.trim())}`);
      x.setRequestHeader('X-Terok-CSRF', C.csrf);
      bar.hidden = false;
      x.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
      x.upload.onload = () => { bar.removeAttribute('value'); btn.textContent = 'Importing… (Podman)'; };
      x.onload = () => {
        bar.hidden = true;
        let b = null;
        try { b = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
        if (x.status >= 200 && x.status < 300) { fill(out, el('p', {class: 'ok'}, `Imported ${name.value.trim()} (${short(b && b.id)}).`)); done(); }
        else fill(out, errBox(new APIError(x.status, b || {error: x.responseText})));
        resolve();
      };
      x.onerror = () => { bar.hidden = true; fill(out, errBox(new Error('the upload failed (connection lost)'))); resolve(); };
      x.send(file.files[0]);
    }));
  };
  return f;
}

function taskTable(ts, empty) {
  if (!ts.length) return el('p', {class: 'muted'}, empty);
  return el('table', {class: 'list'},
    el('thead', {}, el('tr', {}, el('th', {}, 'Task'), el('th', {}, 'Project'), el('th', {}, 'Mode'), el('th', {}, 'State'), el('th', {}, 'Age'))),
    el('tbody', {}, ts.slice().sort((a, b) => b.created.localeCompare(a.created)).map((t) =>
      el('tr', {dataset: {task: t.id}}, el('td', {}, link('/task/' + t.id, t.id, {class: 'mono'})),
        el('td', {}, t.project), el('td', {}, t.mode), el('td', {}, badge(t.state),
          t.exit_code !== null && t.exit_code !== undefined ? el('span', {class: 'muted'}, ' exit ' + t.exit_code) : null),
        el('td', {class: 'muted'}, agoEl(t.created))))));
}

// ---- project forms (new project and settings)

function field(id, label, input, help) {
  input.id = id;
  input.name = id;
  const err = el('p', {class: 'field-error', id: id + '-error', hidden: true});
  input.setAttribute('aria-describedby', id + '-error' + (help ? ' ' + id + '-help' : ''));
  return el('div', {class: 'field', dataset: {field: id}}, el('label', {for: id}, label), input,
    help ? el('p', {class: 'help', id: id + '-help'}, help) : null, err);
}

// projectForm builds the form; values fills it; returns {form, read, showErrors}.
async function projectForm(p, isNew) {
  let profiles = [], images = [];
  try { profiles = await get('/shield/profiles'); } catch (e) { /* shown as text input below */ }
  try { images = (await get('/images')).flatMap((im) => im.names || []); } catch (e) { /* typed by hand */ }
  const chosen = new Set((p.shield && p.shield.profiles) || []);
  const f = el('form', {class: 'form', novalidate: true});
  const v = (x) => x === undefined || x === null ? '' : String(x);
  f.append(
    field('name', 'Name', el('input', {value: v(p.name), required: true, readonly: !isNew, autocomplete: 'off', pattern: '[a-z0-9][a-z0-9_-]{0,47}'}),
      '1-48 lower-case letters, digits, - or _; it names the gate repository.'),
    field('upstream_url', 'Upstream repository', el('input', {value: v(p.git && p.git.upstream_url), placeholder: 'e.g. https://github.com/you/repo.git (empty: a local-only repository)', autocomplete: 'off'})),
    field('default_branch', 'Default branch', el('input', {value: v(p.git && p.git.default_branch), placeholder: 'empty: the upstream\u2019s, or main'})),
    field('security_class', 'Security class', el('select', {},
      el('option', {value: 'gatekeeping', selected: p.security_class !== 'online'}, 'gatekeeping: pushes wait in the gate for review'),
      el('option', {value: 'online', selected: p.security_class === 'online'}, 'online: the gate forwards pushes upstream'))),
    field('image', 'Image', el('input', {value: v(p.image), placeholder: 'empty: localhost/terok-base:latest', list: 'image-names', autocomplete: 'off'})),
    el('datalist', {id: 'image-names'}, images.map((n) => el('option', {value: n}))),
    field('web_port', 'Web port', el('input', {type: 'number', min: 1, max: 65535, value: v(p.run && p.run.web_port), placeholder: 'for web-mode tasks: the port the agent serves on'})),
    field('command', 'Agent command', el('textarea', {rows: 3, placeholder: 'what a task runs (sh -c in /workspace); the prompt is in $TEROK_PROMPT and on stdin'}, v(p.agent && p.agent.command))),
    profiles.length ?
      el('fieldset', {class: 'field', dataset: {field: 'profiles'}}, el('legend', {}, 'Shield profiles (allowlists)'),
        profiles.map((pr) => el('label', {class: 'check'}, el('input', {type: 'checkbox', name: 'profiles', value: pr.name, checked: chosen.has(pr.name)}),
          ' ' + pr.name, el('span', {class: 'muted'}, ` (${pr.entries} entries${pr.error ? ', ' + pr.error : ''})`))),
        el('p', {class: 'field-error', id: 'profiles-error', hidden: true})) :
      field('profiles', 'Shield profiles', el('input', {value: [...chosen].join(', ')}), 'comma-separated profile names'),
    field('allow', 'Extra allowed destinations', el('input', {value: ((p.shield && p.shield.allow) || []).join(', ')}), 'hosts, addresses or ranges, comma-separated'));
  const list = (s) => s.split(/[\s,]+/).filter(Boolean);
  function read() {
    const out = Object.assign({}, p);
    const val = (id) => f.elements[id].value.trim();
    out.name = val('name');
    out.security_class = val('security_class');
    out.git = Object.assign({}, p.git || {}, {upstream_url: val('upstream_url') || undefined, default_branch: val('default_branch') || undefined});
    out.image = val('image') || undefined;
    out.agent = Object.assign({}, p.agent || {}, {command: val('command') || undefined});
    out.run = Object.assign({}, p.run || {}, {web_port: val('web_port') ? Number(val('web_port')) : undefined});
    const prof = profiles.length ? [...f.querySelectorAll('input[name=profiles]:checked')].map((x) => x.value) : list(val('profiles'));
    out.shield = Object.assign({}, p.shield || {}, {profiles: prof.length ? prof : undefined, allow: list(val('allow')).length ? list(val('allow')) : undefined});
    delete out.file;
    delete out.warnings;
    return out;
  }
  function clear() {
    for (const e of f.querySelectorAll('.field-error')) { e.hidden = true; e.textContent = ''; }
    for (const e of f.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  }
  function setErr(id, msg) {
    const e = document.getElementById(id + '-error');
    if (!e) return false;
    e.textContent = msg;
    e.hidden = false;
    const input = f.elements[id];
    if (input && input.setAttribute) input.setAttribute('aria-invalid', 'true');
    return true;
  }
  // validate checks in the page what need not go to the server.
  function validate(x) {
    clear();
    let good = true;
    const bad = (id, msg) => { setErr(id, msg); good = false; };
    if (!x.name) bad('name', 'Give the project a name, e.g. my-app.');
    else if (!/^[a-z0-9][a-z0-9_-]{0,47}$/.test(x.name)) bad('name', 'Use 1-48 lower-case letters, digits, - or _, starting with a letter or digit.');
    const wp = x.run.web_port;
    if (wp !== undefined && !(Number.isInteger(wp) && wp >= 1 && wp <= 65535)) bad('web_port', 'Give a port number from 1 to 65535, or leave it empty.');
    const up = x.git.upstream_url;
    if (up && !/^(https?:\/\/|ssh:\/\/|git:\/\/|file:\/\/|\/|[\w.-]+@[\w.-]+:)/.test(up)) bad('upstream_url', 'Give a URL git can clone (https://, ssh://, git@host:path) or an absolute path.');
    if (!good) { const first = f.querySelector('[aria-invalid]'); if (first) first.focus(); }
    return good;
  }
  // showServerError puts the API's message at the field it names.
  const keys = [['exists', 'name'], ['upstream', 'upstream_url'], ['default_branch', 'default_branch'], ['branch', 'default_branch'], ['security_class', 'security_class'],
    ['image', 'image'], ['web_port', 'web_port'], ['profile', 'profiles'], ['allow', 'allow'], ['command', 'command'], ['name', 'name']];
  function showServerError(e, general) {
    clear();
    const m = (e.message || '').toLowerCase();
    for (const [k, id] of keys) {
      if (m.includes(k) && setErr(id, e.message)) { f.elements[id] && f.elements[id].focus && f.elements[id].focus(); return; }
    }
    fill(general, errBox(e));
  }
  return {form: f, read, validate, showServerError, clear};
}

pages.newproject = async function () {
  const out = el('div', {'aria-live': 'polite'});
  const pf = await projectForm({}, true);
  const btn = el('button', {type: 'submit', class: 'primary', id: 'create'}, 'Create project');
  pf.form.append(el('div', {class: 'row'}, btn), out);
  fill(app(), el('h1', {}, 'New project'), card('Settings', pf.form));
  pf.form.onsubmit = async (ev) => {
    ev.preventDefault();
    const p = pf.read();
    if (!pf.validate(p)) return;
    await busy(btn, 'Creating…', async () => {
      try {
        await post('/projects', p);
        location.href = C.base + '/project/' + encodeURIComponent(p.name);
      } catch (e) { pf.showServerError(e, out); }
    });
  };
};

pages.project = async function () {
  const name = C.name;
  let p;
  try { p = await get('/projects/' + encodeURIComponent(name)); } catch (e) {
    fill(app(), el('h1', {}, name), errBox(e, 'Project'), el('p', {}, link('/', 'Back to the overview')));
    return;
  }
  const settingsOut = el('div', {id: 'settings-out', 'aria-live': 'polite'});
  const pf = await projectForm(p, false);
  const save = el('button', {type: 'submit', class: 'primary', id: 'save'}, 'Save settings');
  pf.form.append(el('div', {class: 'row'}, save), settingsOut);
  pf.form.onsubmit = async (ev) => {
    ev.preventDefault();
    const x = pf.read();
    if (!pf.validate(x)) return;
    await busy(save, 'Saving…', async () => {
      try {
        const r = await api('PUT', '/projects/' + encodeURIComponent(name), x);
        p = r;
        fill(settingsOut, el('p', {class: 'ok'}, 'Saved to ' + r.file + '.'), warnings(r.warnings));
      } catch (e) { pf.showServerError(e, settingsOut); }
    });
  };

  const gateBox = el('div', {id: 'gate'}, el('p', {class: 'muted'}, 'Loading…'));
  const tasksBox = el('div', {id: 'tasks'});
  // New task
  const mode = el('select', {id: 'task-mode', name: 'mode'}, ['headless', 'interactive', 'web'].map((m) => el('option', {value: m}, m)));
  const prompt = el('textarea', {id: 'task-prompt', rows: 3, placeholder: 'What should the agent do?'});
  const cmd = el('input', {id: 'task-command', placeholder: 'empty: the project\u2019s agent command', autocomplete: 'off'});
  const runBtn = el('button', {type: 'submit', class: 'primary', id: 'task-run'}, 'Start task');
  const runOut = el('div', {'aria-live': 'polite'});
  const agentPick = agentsUI.taskField(p);
  const newTask = el('form', {class: 'form', id: 'new-task'},
    el('div', {class: 'field'}, el('label', {for: 'task-mode'}, 'Mode'), mode),
    agentPick && agentPick.node,
    el('div', {class: 'field'}, el('label', {for: 'task-prompt'}, 'Prompt'), prompt),
    el('div', {class: 'field'}, el('label', {for: 'task-command'}, 'Command (optional)'), cmd),
    el('div', {class: 'row'}, runBtn), runOut);
  newTask.onsubmit = async (ev) => {
    ev.preventDefault();
    await busy(runBtn, 'Starting… (creating the container)', async () => {
      const command = cmd.value.trim() || undefined;
      const t = await post('/tasks', {project: name, mode: mode.value, prompt: prompt.value, command, agent: agentPick && !command ? agentPick.value() : undefined});
      location.href = C.base + '/task/' + t.id;
    }, runOut);
  };

  fill(app(), 
    el('h1', {}, 'Project ', el('span', {class: 'mono'}, name)),
    warnings(p.warnings),
    el('div', {class: 'grid'},
      card('New task', newTask),
      agentsUI.imageCard(name, p),
      card('Gate', gateBox),
      card('Tasks', tasksBox),
      card('Settings', el('p', {class: 'muted'}, 'File: ' + p.file), pf.form)));

  const syncOut = el('div', {id: 'sync-result', 'aria-live': 'polite'}); // kept across reloads of the panel
  async function loadGate() {
    let g;
    try { g = await get(`/projects/${encodeURIComponent(name)}/gate`); } catch (e) {
      fill(gateBox, e.status === 404 || /no gate repository yet/.test(e.message) ?
        el('p', {class: 'muted'}, 'No gate repository yet: the first task creates it (mirroring the upstream).') : errBox(e));
      return;
    }
    const url = el('input', {id: 'clone-url', readonly: true, value: g.clone_url, 'aria-label': 'Clone URL'});
    const copy = el('button', {type: 'button', id: 'copy-clone'}, 'Copy');
    copy.onclick = async () => {
      try { await navigator.clipboard.writeText(g.clone_url); } catch (e) { url.select(); document.execCommand('copy'); }
      copy.textContent = 'Copied';
      setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
    };
    const syncBtn = el('button', {type: 'button', id: 'sync'}, 'Sync from upstream');
    syncBtn.onclick = () => busy(syncBtn, 'Syncing… (fetching upstream)', async () => {
      const r = await post(`/projects/${encodeURIComponent(name)}/gate/sync`);
      fill(syncOut, el('p', {class: 'ok'}, `Synced: ${(r.updated || []).length} branch(es) moved.`),
        (r.errors || []).length ? el('p', {class: 'error'}, r.errors.join('; ')) : null);
      await loadGate();
    }, syncOut);
    fill(gateBox, 
      el('label', {for: 'clone-url'}, 'Clone URL (from this host)'), el('div', {class: 'row'}, url, copy), cloneHint(g.clone_url),
      el('p', {class: 'muted'}, g.upstream ? 'Upstream: ' + g.upstream : 'No upstream: a local-only repository.'),
      el('table', {class: 'list'},
        el('thead', {}, el('tr', {}, el('th', {}, 'Branch'), el('th', {}, 'Head'), el('th', {}, 'Ahead / behind'), el('th', {}, ''))),
        el('tbody', {}, g.branches.map((b) => el('tr', {dataset: {branch: b.name}},
          el('td', {class: 'mono'}, b.name, b.name === g.default_branch ? el('span', {class: 'muted'}, ' (default)') : null),
          el('td', {}, el('span', {class: 'mono'}, short(b.head)), ' ', el('span', {class: 'muted'}, b.subject || '')),
          el('td', {}, b.ahead !== undefined && b.ahead !== null ? `${b.ahead} / ${b.behind}` : '—'),
          el('td', {}, b.name !== g.default_branch ? link(`/project/${encodeURIComponent(name)}/review?branch=${encodeURIComponent(b.name)}`, 'Review', {class: 'button small'}) : null))))),
      el('div', {class: 'row'}, syncBtn), syncOut);
  }
  async function loadTasks() {
    try { fill(tasksBox, taskTable(await get('/tasks?project=' + encodeURIComponent(name)), 'No tasks yet.')); } catch (e) { fill(tasksBox, errBox(e)); }
  }
  await Promise.all([loadGate(), loadTasks()]);
  events.on((ev) => {
    if (ev.type === 'task' && ev.task_state && ev.task_state.project === name) loadTasks();
    if (ev.type === 'timeline' && ev.entry && ev.entry.kind === 'push') loadGate();
  });
};

function warnings(ws) {
  if (!ws || !ws.length) return null;
  return el('div', {class: 'problem'}, el('strong', {}, 'The project file has problems: '), el('ul', {}, ws.map((w) => el('li', {}, w))));
}

// Review: a branch's commits and diff against the default branch; promote.
pages.review = async function () {
  const name = C.name;
  const branch = new URLSearchParams(location.search).get('branch') || '';
  const P = '/projects/' + encodeURIComponent(name) + '/gate';
  const head = el('div', {});
  const commitsBox = el('div', {id: 'commits'}, el('p', {class: 'muted'}, 'Loading…'));
  const diffBox = el('div', {id: 'diff'}, el('p', {class: 'muted'}, 'Loading the diff…'));
  // Promote sends the head this page showed: a branch that moved since is
  // refused by the gate, never promoted unseen.
  const promoteBtn = el('button', {class: 'primary', id: 'promote', disabled: true}, 'Promote upstream');
  let reviewed = '', listHead = '', diffFailed = false;
  const showing = (commit) => { if (commit && !reviewed) { reviewed = commit; promoteBtn.disabled = false; promoteBtn.dataset.expect = commit; } };
  const promoteOut = el('div', {id: 'promote-result', 'aria-live': 'polite'});
  fill(app(), 
    el('p', {}, link('/project/' + encodeURIComponent(name), '\u2190 ' + name)),
    el('h1', {}, 'Review ', el('span', {class: 'mono'}, branch)), head,
    card('Promote', el('p', {}, 'Pushes this branch from the gate to the upstream repository.'), el('div', {class: 'row'}, promoteBtn), promoteOut),
    card('Commits', commitsBox), card('Changes', diffBox));
  if (!branch) { fill(head, errBox(new Error('No branch given: open Review from the project\u2019s gate panel.'))); return; }
  const promote = (force) => async () => {
    try {
      const r = await post(P + '/promote', {branch, force: force || undefined, expect: reviewed});
      fill(promoteOut, el('p', {class: 'ok', role: 'status'}, r.up_to_date ?
        `The upstream already has ${short(r.commit)} on ${r.target}.` : `Promoted: ${r.target} is now ${short(r.commit)} upstream.`));
    } catch (e) {
      if (/moved since it was reviewed/.test(e.message)) {
        fill(promoteOut, errBox(e, 'Not promoted'), el('p', {}, 'The branch has new commits since this page showed it. ',
          link(location.pathname + location.search, 'Reload to review them')));
        return;
      }
      fill(promoteOut, errBox(e, 'The upstream refused'));
      if (/non-fast-forward|fetch first|rejected/.test(e.message) && !force) {
        // The upstream's branch has commits this one lacks.
        const forceBtn = el('button', {class: 'danger', id: 'promote-force'}, 'Promote with force');
        forceBtn.onclick = async () => {
          if (!await confirmDialog('Overwrite the upstream branch?', `The upstream\u2019s ${branch} has commits this branch lacks; forcing replaces them with this branch.`, 'Overwrite')) return;
          await busy(forceBtn, 'Promoting…', promote(true));
        };
        promoteOut.append(el('p', {}, 'The upstream\u2019s branch has moved on: have the task work on top of it (a follow-up after Sync), or overwrite it.'), forceBtn);
      }
    }
  };
  promoteBtn.onclick = () => busy(promoteBtn, 'Promoting… (pushing upstream)', promote(false));
  const showCommits = (cs) => fill(commitsBox, cs.length ? el('ol', {class: 'commits'}, cs.map((c) => el('li', {},
    el('span', {class: 'mono'}, short(c.hash)), ' ', el('strong', {}, c.subject), ' ',
    el('span', {class: 'muted'}, `${c.author} · `, agoEl(c.when))))) : el('p', {class: 'muted'}, 'No commits beyond the default branch.'));
  // The branch's own commits: as many as it is ahead of the default branch.
  get(P).then(async (g) => {
    const b = g.branches.find((x) => x.name === branch);
    fill(head, el('p', {class: 'muted'}, b ? `Head ${short(b.head)} · ${b.ahead ?? '?'} ahead, ${b.behind ?? '?'} behind ${g.default_branch}` : `Branch ${branch} is not in the gate.`));
    listHead = b ? b.head : '';
    if (diffFailed) showing(listHead);
    if (!b || commitsBox.dataset.fromDiff) return;
    const limit = b.ahead === undefined || b.ahead === null ? 50 : b.ahead;
    const cs = limit ? await get(`${P}/log?branch=${encodeURIComponent(branch)}&limit=${limit}`) : [];
    if (!commitsBox.dataset.fromDiff) showCommits(cs);
  }).catch((e) => fill(head, errBox(e)));
  try {
    const d = await get(`${P}/diff?branch=${encodeURIComponent(branch)}`);
    showing(d.head_commit);
    commitsBox.dataset.fromDiff = '1';
    showCommits(d.commits || []);
    if (d.commits_truncated) commitsBox.append(el('p', {class: 'muted'}, 'More commits not shown.'));
    fill(diffBox, 
      el('p', {id: 'diff-stat'}, `${d.files.length} file(s) changed against ${d.base}: `,
        el('span', {class: 'add'}, '+' + d.added), ' ', el('span', {class: 'del'}, '\u2212' + d.removed)),
      el('ul', {class: 'files'}, d.files.map((f) => el('li', {},
        el('span', {class: 'fstatus'}, f.status), ' ', el('span', {class: 'mono'}, f.old_path ? `${f.old_path} \u2192 ${f.path}` : f.path), ' ',
        f.binary ? el('span', {class: 'muted'}, 'binary') : [el('span', {class: 'add'}, '+' + f.added), ' ', el('span', {class: 'del'}, '\u2212' + f.removed)]))),
      renderPatch(d.patch), d.truncated ? el('p', {class: 'muted'}, 'The diff is cut here (too large to show).') : null);
  } catch (e) {
    diffFailed = true;
    showing(listHead);
    fill(diffBox, errBox(e, 'Diff'));
  }
};

function renderPatch(patch) {
  const pre = el('pre', {class: 'patch', tabindex: 0, 'aria-label': 'Unified diff'});
  for (const line of (patch || '').replace(/\n$/, '').split('\n')) {
    let cls = '';
    if (line.startsWith('diff ') || line.startsWith('index ') || line.startsWith('+++') || line.startsWith('---')) cls = 'meta';
    else if (line.startsWith('@@')) cls = 'hunk';
    else if (line.startsWith('+')) cls = 'add';
    else if (line.startsWith('-')) cls = 'del';
    pre.append(el('span', {class: 'pl ' + cls}, line));
  }
  return pre;
}

// Task: state, log, actions, terminal, web view, shield, timeline.
pages.task = async function () {
  const id = C.id;
  let t;
  try { t = await get('/tasks/' + id); } catch (e) {
    fill(app(), el('h1', {}, 'Task ' + id), errBox(e), el('p', {}, link('/', 'Back to the overview')));
    return;
  }
  const state = el('div', {id: 'task-state'});
  const actionsOut = el('div', {'aria-live': 'polite'});
  const stopBtn = el('button', {id: 'stop'}, 'Stop');
  const restartBtn = el('button', {id: 'restart'}, 'Restart');
  const delBtn = el('button', {id: 'delete', class: 'danger'}, 'Delete');
  const fuPrompt = el('textarea', {id: 'followup-prompt', rows: 2, placeholder: 'Follow-up prompt: the task runs again in its workspace'});
  const fuBtn = el('button', {id: 'followup', type: 'submit'}, 'Run follow-up');
  const fuForm = el('form', {class: 'form'}, el('label', {for: 'followup-prompt'}, 'Follow-up'), fuPrompt, el('div', {class: 'row'}, fuBtn));

  // Log panel
  const logEl = el('div', {id: 'log', class: 'log', tabindex: 0, role: 'log', 'aria-label': 'Task log'});
  const search = el('input', {id: 'log-search', type: 'search', placeholder: 'Search the log', 'aria-label': 'Search the log'});
  const hits = el('span', {class: 'muted', id: 'log-hits'});
  const pauseBtn = el('button', {id: 'log-pause', type: 'button', 'aria-pressed': 'false', title: 'Stop scrolling new lines in; they are kept'}, 'Pause');
  const dl = el('a', {class: 'button', href: `${API}/tasks/${id}/logs`, download: `task-${id}.log`, id: 'log-download'}, 'Download');
  let paused = false, held = [];
  const addLine = (line) => {
    const d = el('div', {class: 'line'}, ansiLine(line));
    const q = search.value.toLowerCase();
    if (q && !d.textContent.toLowerCase().includes(q)) d.hidden = true;
    const atEnd = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 30;
    logEl.append(d);
    if (q) countHits();
    if (atEnd) logEl.scrollTop = logEl.scrollHeight;
  };
  const onLine = (line) => {
    if (!paused) return addLine(line);
    held.push(line);
    pauseBtn.textContent = `Resume (${held.length} new)`;
  };
  pauseBtn.onclick = () => {
    paused = !paused;
    pauseBtn.textContent = paused ? `Resume` : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(paused));
    if (!paused) { held.forEach(addLine); held = []; }
  };
  function countHits() {
    const q = search.value.toLowerCase();
    let n = 0;
    for (const d of logEl.children) { const m = !q || d.textContent.toLowerCase().includes(q); d.hidden = !m; if (m && q) n++; }
    hits.textContent = q ? `${n} matching line(s)` : '';
  }
  search.oninput = countHits;
  let logAbort = null;
  async function followLog() {
    if (logAbort) logAbort.abort();
    logAbort = new AbortController();
    fill(logEl, );
    try { await stream(`/tasks/${id}/logs?follow=1`, onLine, logAbort.signal); } catch (e) {
      if (e.name !== 'AbortError') logEl.append(el('div', {class: 'line error'}, 'log: ' + e.message));
    }
  }

  const termBox = el('div', {id: 'terminal-box'});
  const webBox = el('div', {id: 'web-box'});
  const shieldBox = el('div', {id: 'shield'});
  const timelineBox = el('ol', {id: 'timeline', class: 'timeline'});
  const staleNote = agentsUI.staleNote(t); // as the page was loaded

  fill(app(), 
    el('p', {}, link('/project/' + encodeURIComponent(t.project), '\u2190 ' + t.project)),
    el('h1', {}, 'Task ', el('span', {class: 'mono'}, id)), state,
    el('div', {class: 'row actions'}, stopBtn, restartBtn, delBtn), actionsOut,
    el('div', {class: 'grid wide'},
      card('Log', el('div', {class: 'row toolbar'}, search, hits, pauseBtn, dl), logEl, fuForm),
      termBox, webBox,
      card('Shield', shieldBox),
      card('Timeline', timelineBox)));

  function renderState() {
    const dt = (a, b) => a ? dur(((b ? new Date(b) : new Date()) - new Date(a)) / 1000) : '—';
    fill(state, el('dl', {class: 'facts'},
      el('dt', {}, 'State'), el('dd', {}, badge(t.state)),
      el('dt', {}, 'Exit code'), el('dd', {id: 'exit-code'}, t.exit_code === null || t.exit_code === undefined ? '—' : String(t.exit_code)),
      el('dt', {}, 'Mode'), el('dd', {}, t.mode),
      el('dt', {}, 'Created'), el('dd', {}, when(t.created)),
      el('dt', {}, 'Started'), el('dd', {}, when(t.started)),
      el('dt', {}, 'Ended'), el('dd', {}, when(t.ended)),
      el('dt', {}, 'Ran for'), el('dd', {id: 'ran-for'}, dt(t.started, t.ended)),
      el('dt', {}, 'Runs'), el('dd', {id: 'runs'}, String(t.runs)),
      el('dt', {}, 'Image'), el('dd', {class: 'mono'}, t.image),
      agentsUI.taskFacts(t),
      t.prompt ? [el('dt', {}, 'Prompt'), el('dd', {}, t.prompt)] : null,
      t.branches && t.branches.length ? [el('dt', {}, 'Pushed'), el('dd', {}, t.branches.map((b) =>
        link(`/project/${encodeURIComponent(t.project)}/review?branch=${encodeURIComponent(b)}`, b, {class: 'mono review-link', title: 'Review and promote ' + b})))] : null),
    t.reason ? el('p', {class: 'error'}, t.reason) : null,
    t.waiting ? el('p', {class: 'muted', id: 'task-waiting'}, t.waiting) : null,
    staleNote);
    const run = !ended(t.state);
    stopBtn.disabled = !run;
    fuBtn.disabled = run;
    renderTerminal();
    renderWeb();
  }
  stopBtn.onclick = () => busy(stopBtn, 'Stopping…', async () => { t = await post(`/tasks/${id}/stop`); renderState(); }, actionsOut);
  restartBtn.onclick = () => busy(restartBtn, 'Restarting…', async () => { t = await post(`/tasks/${id}/restart`); renderState(); followLog(); loadShield(); }, actionsOut);
  delBtn.onclick = async () => {
    const run = !ended(t.state);
    if (!await confirmDialog('Delete task ' + id + '?', run ? 'The task is running: it is stopped, then its container, workspace and log are removed.' : 'Its container, workspace volume and log are removed.', 'Delete')) return;
    await busy(delBtn, 'Deleting…', async () => {
      await api('DELETE', `/tasks/${id}${run ? '?force=1' : ''}`);
      location.href = C.base + '/project/' + encodeURIComponent(t.project);
    }, actionsOut);
  };
  fuForm.onsubmit = async (ev) => {
    ev.preventDefault();
    await busy(fuBtn, 'Starting…', async () => { t = await post(`/tasks/${id}/followup`, {prompt: fuPrompt.value}); fuPrompt.value = ''; renderState(); followLog(); }, actionsOut);
  };

  // Interactive terminal (xterm.js over the attach WebSocket).
  let term = null;
  function renderTerminal() {
    if (t.mode !== 'interactive') return;
    if (term && !ended(t.state)) return;
    const open = el('button', {id: 'terminal-open', disabled: ended(t.state)}, 'Open terminal');
    const box = el('div', {id: 'terminal', class: 'terminal'});
    fill(termBox, card('Terminal', ended(t.state) ? el('p', {class: 'muted'}, 'The task has ended.') : el('div', {class: 'row'}, open), box));
    open.onclick = () => busy(open, 'Connecting…', async () => { await openTerminal(box); open.remove(); }, box);
  }
  async function openTerminal(box) {
    await loadScript('vendor/xterm/xterm.js');
    await loadScript('vendor/addon-fit/addon-fit.js');
    loadCSS('vendor/xterm/xterm.css');
    // lineHeight above 1: at 1.0 the rows clip the glyphs' descent, and
    // underscores vanish (TEROK_TASK_ID showed as TEROK TASK ID).
    term = new window.Terminal({cursorBlink: true, fontSize: 14, lineHeight: 1.2, convertEol: false});
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(box);
    fit.fit();
    const u = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + `${API}/tasks/${id}/attach?rows=${term.rows}&cols=${term.cols}`;
    const ws = new WebSocket(u);
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('the terminal connection failed (is the task running?)')); });
    ws.onmessage = (m) => {
      if (typeof m.data === 'string') {
        try { const x = JSON.parse(m.data); if (x.type === 'exit') term.write(`\r\n[process exited with code ${x.code}]\r\n`); } catch (e) { /* ignored */ }
      } else term.write(new Uint8Array(m.data));
    };
    ws.onclose = (e) => { term.write(`\r\n[disconnected${e.reason ? ': ' + e.reason : ''}]\r\n`); box.dataset.closed = '1'; };
    term.onData((d) => { if (ws.readyState === 1) ws.send(enc.encode(d)); });
    term.onResize(({rows, cols}) => { if (ws.readyState === 1) ws.send(JSON.stringify({type: 'resize', rows, cols})); });
    new ResizeObserver(() => fit.fit()).observe(box);
    box.dataset.connected = '1';
    term.focus();
  }

  // The task's web UI lives at its own address (another port: another
  // origin), opened with a one-time link the API mints; the app never
  // runs in terok's origin.
  function renderWeb() {
    if (t.mode !== 'web') return;
    if (ended(t.state) || !t.web_url) {
      if (webBox.dataset.open !== '0') { webBox.dataset.open = '0'; fill(webBox, card('Web view', el('p', {class: 'muted'}, 'The task\u2019s web UI is open while the task runs.'))); }
      return;
    }
    if (webBox.dataset.open === '1') return;
    webBox.dataset.open = '1';
    const out = el('div', {'aria-live': 'polite'});
    const ticket = async () => (await post(`/tasks/${id}/web/ticket`)).url;
    const link = el('a', {href: t.web_url, target: '_blank', rel: 'noopener noreferrer', id: 'web-link', class: 'mono'}, t.web_url);
    link.onclick = async (ev) => {
      ev.preventDefault();
      // Opened now, while the click counts as the user's; the link with
      // its one-time ticket follows.
      const w = window.open('about:blank', '_blank');
      if (w) w.opener = null;
      try {
        const u = await ticket();
        if (w) w.location.replace(u); else location.href = u;
      } catch (e) {
        if (w) w.close();
        fill(out, errBox(e, 'Open the web UI'));
      }
    };
    const show = el('button', {type: 'button', id: 'web-show'}, 'Show it here');
    const frameBox = el('div', {});
    // Shown only when asked, sandboxed: no top navigation, no escape from
    // the sandbox for its pop-ups; its own origin is another port's, so it
    // can neither read terok's pages nor use terok's session.
    show.onclick = () => busy(show, 'Opening\u2026', async () => {
      const u = await ticket();
      fill(frameBox, el('iframe', {src: u, title: 'Task web UI', class: 'webview', id: 'web-frame', referrerpolicy: 'no-referrer',
        sandbox: 'allow-scripts allow-forms allow-same-origin allow-popups allow-downloads allow-modals'}));
      show.remove();
    }, out);
    fill(webBox, card('Web view',
      el('p', {}, 'The task\u2019s web UI: ', link),
      el('p', {class: 'muted'}, 'It runs at its own address, apart from terok: its pages cannot act with your terok session. The link works for you only: terok gives your browser a one-time pass to it.'),
      el('div', {class: 'row'}, show), out, frameBox));
  }

  // Shield panel: mode, allowlist, blocked connections live.
  const blocked = new Map();
  let statusTimer = null;
  const blockedList = el('ul', {class: 'blocked', id: 'blocked'});
  const shieldOut = el('div', {'aria-live': 'polite'});
  const statusBox = el('div', {});
  async function loadShield() {
    if (ended(t.state) || !t.container) { fill(shieldBox, el('p', {class: 'muted'}, 'The shield guards running tasks only.')); return; }
    let st;
    try { st = await get(`/tasks/${id}/shield`); } catch (e) { fill(statusBox, errBox(e)); fill(shieldBox, statusBox); return; }
    const modes = el('div', {class: 'segmented', role: 'radiogroup', 'aria-label': 'Shield mode'}, ['up', 'down', 'block'].map((m) => {
      const b = el('button', {type: 'button', role: 'radio', 'aria-checked': String(st.mode === m), class: st.mode === m ? 'on' : '', dataset: {mode: m},
        title: {up: 'allowlist enforced', down: 'everything allowed, connections logged', block: 'nothing allowed'}[m]}, m);
      b.onclick = () => busy(b, m + '…', async () => { await post(`/tasks/${id}/shield/mode`, {mode: m}); await loadShield(); }, shieldOut);
      return b;
    }));
    if (st.mode === 'open') {
      // A project without the shield: its tasks get the minimal ruleset,
      // which the mode buttons do not apply to.
      fill(statusBox, el('p', {id: 'shield-open'}, 'Mode: ', el('strong', {}, 'open'),
        ' \u2014 this project runs without the shield: the task reaches everything except the host side, where only terok\u2019s own endpoints answer. To guard it, turn the shield on in the project\u2019s settings and run the task again.'));
      fill(shieldBox, statusBox, shieldOut);
      return;
    }
    const allowed = (st.allowed || []).map((e) => el('li', {}, el('span', {class: 'mono'}, e.target), e.expires ? el('span', {class: 'muted'}, ' until ' + when(e.expires)) : null));
    fill(statusBox, 
      el('div', {class: 'row'}, el('span', {}, 'Mode: '), modes, el('span', {class: 'muted'}, ` ${st.blocked} blocked since armed`)),
      el('details', {open: (st.allowed || []).length > 0},
        el('summary', {}, `Allowlist: ${(st.static || []).length} from profiles and the project, ${(st.allowed || []).length} live`),
        el('ul', {class: 'allow', id: 'allowlist'}, allowed, (st.static || []).map((s) => el('li', {class: 'mono muted'}, s))),
        (st.denied || []).length ? el('p', {}, 'Denied: ', st.denied.map((e) => e.target).join(', ')) : null));
    fill(shieldBox, statusBox, el('h3', {}, 'Blocked connections and refused names'), blockedList, shieldOut);
    if (!blocked.size) fill(blockedList, el('li', {class: 'muted empty'}, 'None yet; they appear here as they happen.'));
  }
  function onAudit(line) {
    let ev;
    try { ev = JSON.parse(line); } catch (e) { return; }
    if (ev.kind !== 'blocked' && ev.kind !== 'connection' && ev.kind !== 'lookup-refused') return;
    const target = ev.kind === 'lookup-refused' ? ev.target : ev.dest || ev.target;
    if (!target) return;
    let row = blocked.get(target);
    if (row) {
      row.count++;
      row.countEl.textContent = `${row.count}\u00d7, last ${new Date(ev.time).toLocaleTimeString()}`;
      return;
    }
    const e = blockedList.querySelector('.empty');
    if (e) e.remove();
    const countEl = el('span', {class: 'muted'}, `1\u00d7, ${new Date(ev.time).toLocaleTimeString()}`);
    const li = el('li', {dataset: {target, kind: ev.kind}},
      ev.kind === 'lookup-refused' ? el('span', {class: 'muted'}, 'lookup refused: ') : null,
      el('span', {class: 'mono'}, target + (ev.port ? ':' + ev.port : '')), ' ', ev.proto ? el('span', {class: 'muted'}, ev.proto + ' ') : null, countEl, ' ',
      shieldActions(id, t.project, target, () => { li.classList.add('done'); loadShield(); }));
    row = {count: 1, countEl};
    clearTimeout(statusTimer);
    statusTimer = setTimeout(loadShield, 500);
    blocked.set(target, row);
    blockedList.append(li);
  }
  let auditAbort = null;
  function followAudit() {
    if (auditAbort || ended(t.state) || !t.container) return;
    auditAbort = new AbortController();
    stream(`/tasks/${id}/shield/audit?follow=1`, onAudit, auditAbort.signal).catch(() => {}).finally(() => { auditAbort = null; });
  }

  // addEntry puts an entry at its place in time: the shield's and the
  // gate's entries carry their own clocks and arrive after entries that
  // came later (the shield's "armed" after the task's "running"), and an
  // event may repeat one the first load brought.
  function addEntry(e) {
    if (timelineBox.querySelector(`li[data-seq="${e.seq}"]`)) return;
    const what = {
      state: () => `state ${e.state}${e.exit_code !== undefined && e.exit_code !== null ? ' (exit ' + e.exit_code + ')' : ''}${e.detail ? ': ' + e.detail : ''}`,
      push: () => `pushed ${e.ref}: ${e.old && !/^0+$/.test(e.old) ? short(e.old) + ' \u2192 ' : 'new at '}${short(e.new)}${e.commits ? ` (${e.commits} commit(s))` : ''}`,
      shield: () => ['shield', e.event, e.target].filter(Boolean).join(' ') + (e.detail ? ': ' + e.detail : ''),
      promote: () => e.detail || `promoted ${e.ref}`,
    }[e.kind];
    const t = new Date(e.time).getTime();
    const li = el('li', {class: 'k-' + e.kind, dataset: {seq: String(e.seq), t: String(t)}},
      el('time', {datetime: e.time}, new Date(e.time).toLocaleTimeString()), ' ', what ? what() : (e.detail || e.kind));
    const after = [...timelineBox.children].find((x) => Number(x.dataset.t) > t || Number(x.dataset.t) === t && Number(x.dataset.seq) > e.seq);
    timelineBox.insertBefore(li, after || null);
  }

  renderState();
  setInterval(() => {
    const d = document.getElementById('ran-for');
    if (d && t.started && !t.ended) d.textContent = dur((Date.now() - new Date(t.started)) / 1000);
  }, 1000);
  followLog();
  loadShield().then(followAudit);
  get(`/tasks/${id}/timeline`).then((es) => es.forEach(addEntry)).catch((e) => timelineBox.append(el('li', {class: 'error'}, e.message)));
  events.on((ev) => {
    if (ev.task !== id && !(ev.task_state && ev.task_state.id === id)) return;
    if (ev.type === 'task' && ev.task_state) {
      const was = t.state, webURL = t.web_url;
      t = ev.task_state;
      // Events carry the record; the UI's address is the API's answer.
      if (t.mode === 'web' && !ended(t.state)) {
        if (webURL) t.web_url = webURL;
        else get(`/tasks/${id}`).then((x) => { if (!ended(x.state) && !ended(t.state)) { t.web_url = x.web_url; renderWeb(); } }).catch(() => {});
      }
      renderState();
      if (ended(was) && !ended(t.state)) { followLog(); loadShield().then(followAudit); }
      if (ended(t.state) && !ended(was)) loadShield();
    }
    if (ev.type === 'timeline' && ev.entry) addEntry(ev.entry);
  });
};

function loadScript(p) {
  return new Promise((res, rej) => {
    const s = el('script', {src: C.base + '/static/' + p});
    s.onload = res;
    s.onerror = () => rej(new Error('could not load ' + p));
    document.head.append(s);
  });
}
function loadCSS(p) { document.head.append(el('link', {rel: 'stylesheet', href: C.base + '/static/' + p})); }

// Daemon logs: pick a daemon, tail live, filter by level.
pages.daemons = async function () {
  const q = new URLSearchParams(location.search);
  const pick = el('select', {id: 'daemon-pick', 'aria-label': 'Daemon'});
  const level = el('select', {id: 'level', 'aria-label': 'Lowest level shown'}, ['trace', 'debug', 'info', 'warn', 'error'].map((l) => el('option', {value: l, selected: l === (q.get('level') || 'debug')}, l + ' and above')));
  const follow = el('input', {type: 'checkbox', id: 'follow', checked: true});
  const out = el('div', {id: 'daemon-log', class: 'log', role: 'log', tabindex: 0, 'aria-label': 'Daemon log'});
  fill(app(), el('h1', {}, 'Daemon logs'),
    el('div', {class: 'row toolbar'}, pick, level, el('label', {class: 'check'}, follow, ' follow')), out);
  let ds;
  try { ds = await get('/daemons'); } catch (e) { fill(out, errBox(e)); return; }
  for (const d of ds) pick.append(el('option', {value: d.name, selected: d.name === q.get('name')}, `${d.name} (${d.state})`));
  const rank = {trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, panic: 6};
  let text = '';
  function render() {
    const min = rank[level.value];
    const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 30;
    const all = text.split('\n').filter(Boolean).map(readable);
    const shown = all.filter((x) => rank[x.lvl] === undefined || rank[x.lvl] >= min).map((x) => x.node);
    const below = {debug: 'debug lines or above', info: 'info lines or above', warn: 'warnings or errors', error: 'errors'}[level.value] || 'lines at this level';
    fill(out, shown.length ? shown : el('p', {class: 'log-empty', id: 'daemon-log-empty'},
      all.length ? `No ${below} in the last ${all.length === 1 ? 'line' : all.length + ' lines'} of ${pick.value}\u2019s log.` : `${pick.value}\u2019s log is empty.`));
    if (follow.checked && atEnd || out.dataset.first !== '0') { out.scrollTop = out.scrollHeight; out.dataset.first = '0'; }
  }
  async function load() {
    try {
      const s = await get(`/daemons/${encodeURIComponent(pick.value)}/log?bytes=65536`);
      if (s !== text) { text = s; render(); }
    } catch (e) { fill(out, errBox(e)); }
  }
  pick.onchange = () => { out.dataset.first = '1'; text = ''; history.replaceState(null, '', `?name=${encodeURIComponent(pick.value)}`); load(); };
  level.onchange = render;
  await load();
  setInterval(() => { if (follow.checked) load(); }, 2000);
};

// rawLevel is the level of a line that is not ours: Podman's logrus
// lines carry level=warning/error/…, our scripts' lines start with
// "error:" or "warning:"; anything else is info.
function rawLevel(line) {
  const m = /\blevel=("?)(\w+)\1/.exec(line);
  if (m) return {warning: 'warn', warn: 'warn', error: 'error', fatal: 'fatal', panic: 'panic', debug: 'debug', trace: 'trace'}[m[2]] || 'info';
  if (/^(\S+: )?(error|fatal)\b/i.test(line)) return 'error';
  if (/^(\S+: )?warn(ing)?\b/i.test(line)) return 'warn';
  return 'info';
}

// readable turns one zerolog JSON line into "time LEVEL [component] message key=value".
function readable(line) {
  let o;
  if (line[0] === '{') { try { o = JSON.parse(line); } catch (e) { /* raw */ } }
  if (!o) { const lvl = rawLevel(line); return {lvl, node: el('div', {class: 'line raw lvl-' + lvl, dataset: {level: lvl, raw: '1'}}, ansiLine(line))}; }
  const lvl = o.level || 'info';
  const t = o.time ? new Date(o.time) : null;
  const rest = Object.entries(o).filter(([k]) => !['level', 'time', 'message', 'component', 'daemon'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`).join(' ');
  return {lvl, node: el('div', {class: 'line lvl-' + lvl, dataset: {level: lvl}},
    el('span', {class: 'muted'}, t && !isNaN(t) ? t.toLocaleTimeString() + ' ' : ''),
    el('span', {class: 'lvl'}, lvl.toUpperCase().padEnd(5)), ' ',
    o.component ? el('span', {class: 'comp'}, '[' + o.component + '] ') : null,
    el('span', {}, o.message || ''), rest ? el('span', {class: 'kv'}, ' ' + rest) : null)};
}

// The secrets page is secrets.js's.
pages.secrets = secretsPage;

// ---- start

(async function main() {
  events.start();
  const f = pages[C.page];
  try { if (f) await f(); } catch (e) { fill(app(), errBox(e)); }
  document.body.dataset.ready = '1';
})();
