// The secrets page: the model providers' keys terok-vault keeps for
// tasks. Write-only: a key typed here goes to terok-web and on to
// vault.sock, the field is emptied at once, and nothing ever shows a
// value (the list has provider, scope, when it was set and a
// fingerprint). Loaded before app.js, which calls secretsPage for the
// page "secrets"; it uses app.js's helpers (el, api, card, ...) only
// when called.
'use strict';

// eslint-disable-next-line no-unused-vars
async function secretsPage() {
  const listBox = el('div', {id: 'secrets-list'});
  const provBox = el('div', {id: 'providers-list'});
  const msg = el('p', {id: 'secret-msg', role: 'status', 'aria-live': 'polite'});
  const provider = el('select', {id: 'secret-provider', required: true});
  const scope = el('select', {id: 'secret-scope'}, el('option', {value: ''}, 'global (every project without its own)'));
  // autocomplete=off and new-password: browsers are not to keep or offer it.
  const value = el('input', {id: 'secret-value', type: 'password', autocomplete: 'new-password', spellcheck: 'false',
    autocapitalize: 'off', placeholder: 'the provider\u2019s API key', required: true});
  const save = el('button', {type: 'submit', id: 'secret-save'}, 'Store');
  const form = el('form', {class: 'form', id: 'secret-form', novalidate: true},
    field('secret-provider', 'Provider', provider),
    field('secret-scope', 'Scope', scope, 'a project\u2019s own key wins over the global one'),
    field('secret-value', 'Key', value, 'sent to terok-vault and never shown again, here or anywhere'),
    el('div', {class: 'row'}, save), msg);
  fill(app(), el('h1', {}, 'Secrets'),
    el('p', {class: 'muted'}, 'Keys stay in terok-vault; a task gets a phantom token for the providers its project names ' +
      '(agent.providers), worth something only at the vault\u2019s broker and only while the task runs.'),
    card('Stored keys', listBox), card('Store a key', form), card('Providers', provBox));

  async function loadList() {
    let ss;
    try { ss = await get('/secrets'); } catch (e) { fill(listBox, errBox(e, 'list the keys')); return; }
    if (!ss.length) { fill(listBox, el('p', {class: 'muted', id: 'secrets-empty'}, 'No key stored yet.')); return; }
    fill(listBox, el('table', {class: 'list'},
      el('thead', {}, el('tr', {}, ['Provider', 'Scope', 'Kind', 'Set', 'Fingerprint', 'Status', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, ss.map((s) => el('tr', {dataset: {provider: s.provider, project: s.project || ''}},
        el('td', {}, s.provider), el('td', {}, s.project ? 'project ' + s.project : 'global'), el('td', {}, s.kind),
        el('td', {}, agoEl(s.set_at)), el('td', {}, el('code', {}, s.fingerprint)), el('td', {}, s.problem || 'ok'),
        el('td', {}, el('button', {class: 'danger small', onclick: (ev) => remove(ev.target, s)}, 'Remove')))))));
  }
  async function remove(btn, s) {
    const where = s.project ? 'project ' + s.project : 'global';
    if (!await confirmDialog('Remove a key', `Remove the ${s.provider} key (${where})? Tasks that need it will not start until one is stored again.`, 'Remove')) return;
    const q = s.project ? '?project=' + encodeURIComponent(s.project) : '';
    await busy(btn, 'Removing…', async () => {
      await api('DELETE', '/secrets/' + encodeURIComponent(s.provider) + q);
      fill(msg, `Removed the ${s.provider} key (${where}).`);
      await loadList();
    }, msg);
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = value.value.trim();
    value.value = '';
    if (!provider.value || !v) { fill(msg, el('span', {class: 'error'}, 'Pick a provider and give its key.')); return; }
    const q = scope.value ? '?project=' + encodeURIComponent(scope.value) : '';
    await busy(save, 'Storing…', async () => {
      const s = await api('PUT', '/secrets/' + encodeURIComponent(provider.value) + q, {value: v});
      fill(msg, `Stored the ${s.provider} key (${s.project ? 'project ' + s.project : 'global'}), fingerprint `, el('code', {}, s.fingerprint), '.');
      await loadList();
    }, msg);
  });

  try {
    const ps = await get('/providers');
    for (const p of ps) provider.append(el('option', {value: p.name}, p.name));
    fill(provBox, el('table', {class: 'list'},
      el('thead', {}, el('tr', {}, ['Provider', 'Upstream', 'Agent variables', 'Source'].map((h) => el('th', {}, h)))),
      el('tbody', {}, ps.map((p) => el('tr', {}, el('td', {}, p.name), el('td', {}, el('code', {}, p.upstream)),
        el('td', {}, (p.env || []).map((e) => e.name).join(', ') || '-'), el('td', {}, p.source))))));
  } catch (e) { fill(provBox, errBox(e, 'list the providers')); }
  try {
    for (const p of await get('/projects')) scope.append(el('option', {value: p.name}, 'project ' + p.name));
  } catch (e) { /* global only */ }
  await loadList();
}
