// terok-web's pages: what needs the user. The overview's first sections
// (branches waiting for review, the shield's open decisions, failed
// tasks of the last day), the shield's answer buttons shared with the
// task page (allow by name or address, for a while, for the project's
// future tasks, or deny), and the project page's clone hint. Loaded
// before app.js, whose helpers (el, get, post, busy, …) these functions
// use when called.
'use strict';

// shieldActions are the answers to one refused destination of a running
// task: Allow (for good), 1 h, 1 day, Deny, and a box that also adds an
// allowed target to the project's allowlist for its future tasks.
// done(text) runs after an answer the shield took.
function shieldActions(task, project, target, done) {
  const res = el('span', {class: 'result', 'aria-live': 'polite'});
  const keepId = 'keep-' + task + '-' + target.replace(/[^A-Za-z0-9]/g, '-');
  const keep = el('input', {type: 'checkbox', id: keepId, class: 'keep'});
  const act = (label, fn) => {
    const b = el('button', {type: 'button', class: 'small', dataset: {act: label}}, label);
    b.onclick = () => busy(b, '\u2026', fn, res);
    return b;
  };
  const allow = (dur) => async () => {
    const forProject = keep.checked && !dur;
    await post(`/tasks/${task}/shield/allow`, {target, for: dur, project: forProject || undefined});
    const text = (dur ? `allowed for ${dur === '1h' ? '1 hour' : '1 day'}` : 'allowed') + (forProject ? `, and for ${project}\u2019s future tasks` : '');
    fill(res, el('span', {class: 'ok'}, ' ' + text));
    done(text);
  };
  keep.onchange = () => { for (const b of box.querySelectorAll('button[data-act="1 h"], button[data-act="1 day"]')) b.disabled = keep.checked; };
  const box = el('span', {class: 'answers'},
    el('span', {class: 'row inline'}, act('Allow', allow('')), act('1 h', allow('1h')), act('1 day', allow('24h')),
      act('Deny', async () => { await post(`/tasks/${task}/shield/deny`, {target}); fill(res, el('span', {class: 'muted'}, ' denied')); done('denied'); })),
    el('label', {for: keepId, class: 'keep-label'}, keep, `also for ${project}\u2019s future tasks`), res);
  return box;
}

// decisionText says what the shield refused, in words.
function decisionText(d) {
  return d.kind === 'lookup-refused' ? ['name lookup refused: ', el('span', {class: 'mono'}, d.target)] :
    ['connection blocked: ', el('span', {class: 'mono'}, d.target + (d.port ? ':' + d.port : '')), d.proto ? el('span', {class: 'muted'}, ' ' + d.proto) : null];
}

// loadWork fills box with the overview's first sections from
// GET /overview; reload is called after an answer or a dismissal.
async function loadWork(box, reload) {
  let o;
  try { o = await get('/overview'); } catch (e) { fill(box, errBox(e, 'What needs you')); box.dataset.sig = ''; return; }
  // Rendered again only when what is listed changed: a refresh must not
  // undo a ticked box or a click in progress. Counts update in place.
  const sig = JSON.stringify([o.review, o.decisions.map((d) => [d.task, d.kind, d.target]), o.failed.map((t) => t.id), o.unknown]);
  if (box.dataset.sig === sig) {
    for (const d of o.decisions) {
      const li = [...box.querySelectorAll('#decisions > li')].find((x) => x.dataset.task === d.task && x.dataset.kind === d.kind && x.dataset.target === d.target);
      const c = li && li.querySelector('.count');
      if (c) c.textContent = `${d.count}\u00d7`;
      const a = li && li.querySelector('[data-ago]');
      if (a) a.dataset.ago = new Date(d.last).toISOString();
    }
    return;
  }
  box.dataset.sig = sig;
  const sections = [];
  const unknown = (o.unknown || []).map((u) => el('p', {class: 'problem'}, el('strong', {}, 'Not shown: '), u));

  sections.push(card('Waiting for review', o.review.length === 0 ? el('p', {class: 'muted'}, 'No branch waits for review: a task\u2019s pushes show here.') :
    el('table', {class: 'list', id: 'review-list'},
      el('thead', {}, el('tr', {}, el('th', {}, 'Branch'), el('th', {}, 'Ahead / behind'), el('th', {}, 'Last commit'), el('th', {}, ''))),
      el('tbody', {}, o.review.map((b) => el('tr', {dataset: {project: b.project, branch: b.branch}},
        el('td', {}, el('div', {class: 'mono'}, b.task ? link('/task/' + encodeURIComponent(b.task), b.branch) : b.branch),
          el('div', {class: 'muted'}, 'project ', link('/project/' + encodeURIComponent(b.project), b.project))),
        el('td', {class: 'counts'}, `${b.ahead} ahead / ${b.behind} behind`),
        el('td', {}, el('span', {class: 'mono'}, short(b.head)), ' ', b.subject || '', b.when ? el('span', {class: 'muted'}, ' \u00b7 ', agoEl(b.when)) : null),
        el('td', {}, link(`/project/${encodeURIComponent(b.project)}/review?branch=${encodeURIComponent(b.branch)}`, 'Review', {class: 'button small'}))))))));

  sections.push(card('The shield waits for you', o.decisions.length === 0 ? el('p', {class: 'muted'}, 'No running task was refused a destination it still waits for.') :
    el('ul', {class: 'decisions', id: 'decisions'}, o.decisions.map((d) => {
      const li = el('li', {dataset: {task: d.task, target: d.target, kind: d.kind}},
        el('div', {}, decisionText(d)),
        el('div', {class: 'muted'}, 'task ', link('/task/' + encodeURIComponent(d.task), d.task, {class: 'mono'}), ' of ', d.project,
          ' \u00b7 ', el('span', {class: 'count'}, `${d.count}\u00d7`), ', last ', agoEl(d.last)),
        shieldActions(d.task, d.project, d.target, () => { li.classList.add('done'); setTimeout(reload, 1200); }));
      return li;
    }))));

  if (o.failed.length) {
    sections.push(card('Failed in the last day', el('table', {class: 'list', id: 'failed-list'},
      el('thead', {}, el('tr', {}, el('th', {}, 'Task'), el('th', {}, 'Project'), el('th', {}, 'How it ended'), el('th', {}, 'Ended'), el('th', {}, ''))),
      el('tbody', {}, o.failed.map((t) => {
        const btn = el('button', {type: 'button', class: 'small', 'aria-label': 'Dismiss task ' + t.id}, 'Dismiss');
        const row = el('tr', {dataset: {task: t.id}},
          el('td', {}, link('/task/' + t.id, t.id, {class: 'mono'})), el('td', {}, t.project),
          el('td', {}, badge(t.state), t.exit_code !== null && t.exit_code !== undefined ? el('span', {class: 'muted'}, ' exit ' + t.exit_code) : null,
            t.reason ? el('div', {class: 'muted reason'}, t.reason) : null),
          el('td', {class: 'muted'}, agoEl(t.ended)), el('td', {}, btn));
        btn.onclick = () => busy(btn, 'Dismissing\u2026', async () => { await post('/overview/dismiss', {task: t.id}); row.remove(); reload(); });
        return row;
      })))));
  }
  fill(box, unknown, el('div', {class: 'grid work'}, sections));
}

// cloneHint says how to clone a project's gate repository from the host:
// the clone URL with the gate's admin token as the user name, the token
// shown as a placeholder (never printed in the page).
function cloneHint(cloneURL) {
  const m = /^(\w+:\/\/)(.*)$/.exec(cloneURL || '');
  if (!m) return null;
  return el('div', {class: 'clone-hint', id: 'clone-hint'},
    el('p', {}, 'From this host, with the gate\u2019s admin token as the user name:'),
    el('pre', {class: 'cmd'}, 'git clone ', m[1], el('var', {class: 'ph', title: 'the gate admin token'}, 'ADMIN_TOKEN'), '@' + m[2]),
    el('p', {class: 'muted'}, 'The admin token is in the start-up banner (in Docker: ', el('code', {}, 'docker logs'), ' of terok\u2019s container) and kept in ',
      el('code', {}, '$TEROK_STATE_DIR/gate/admin-token'), '. Without it git asks for a user name and fails (', el('code', {}, 'could not read Username'), ').'));
}
