// terok-web's agent pieces (issue 18): a project's image — its state and
// the Build button with the build's steps and output live — the agent
// choice of the new-task form, and a task's note when its project's image
// has moved on. Loaded before app.js, whose helpers (el, fill, get, api,
// stream, errBox, card, C, API) it uses when its functions are called.
'use strict';

const agentsUI = {
  // imageCard is the project page's Image card for project p (null for a
  // project without a build: section, whose tasks run its image as is).
  imageCard(name, p) {
    if (!p.build || !((p.build.agents || []).length || p.build.snippet || p.build.snippet_file)) return null;
    const status = el('div', {id: 'image-status', 'aria-live': 'polite'}, el('p', {class: 'muted'}, 'Loading…'));
    const mode = el('select', {id: 'build-mode', 'aria-label': 'Build mode'},
      el('option', {value: 'reuse'}, 'reuse unchanged layers'),
      el('option', {value: 'refresh-agents'}, 'refresh agents (new versions)'),
      el('option', {value: 'full'}, 'full (no cache)'));
    const btn = el('button', {type: 'button', class: 'primary', id: 'build'}, 'Build');
    const steps = el('ol', {id: 'build-steps', class: 'timeline', hidden: true});
    const log = el('div', {id: 'build-log', class: 'log', role: 'log', 'aria-label': 'Build output', tabindex: 0, hidden: true});
    const out = el('div', {id: 'build-result', 'aria-live': 'polite'});
    async function load() {
      try {
        const st = await get(`/projects/${encodeURIComponent(name)}/image`);
        const vs = Object.entries(st.versions || {}).map(([a, v]) => a + '@' + v).sort().join(' ');
        fill(status, el('dl', {class: 'facts'},
          el('dt', {}, 'Image'), el('dd', {class: 'mono'}, st.image),
          el('dt', {}, 'State'), el('dd', {id: 'image-state'}, el('span', {class: 'badge ' + (st.state === 'current' ? 's-running' : 's-failed')}, st.state), st.building ? ' (a build runs)' : ''),
          (st.agents || []).length ? [el('dt', {}, 'Agents'), el('dd', {}, st.agents.join(', '))] : null,
          vs ? [el('dt', {}, 'Installed'), el('dd', {class: 'mono'}, vs)] : null),
        st.reason ? el('p', {class: st.state === 'current' ? 'muted' : 'problem', id: 'image-reason'}, st.reason) : null);
      } catch (e) { fill(status, errBox(e)); }
    }
    const lineOf = (ev) => {
      switch (ev.kind) {
        case 'reused': return `${ev.layer}: reused ${ev.ref}`;
        case 'layer': return `${ev.layer}: building ${ev.ref}`;
        case 'resolved': return `${ev.agent ? ev.agent + ' ' : ''}${ev.text} resolved to ${ev.version}`;
        case 'built': return `${ev.layer}: built ${ev.ref} in ${(ev.seconds || 0).toFixed(1)} s`;
        case 'failed': return `${ev.layer}: failed at step ${ev.step}/${ev.steps} (${ev.text})`;
      }
      return null;
    };
    let stepItem = null, own = false, ownUntil = 0, other = false;
    const onEvent = (ev) => {
      if (ev.kind === 'output') {
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
        log.append(el('div', {class: 'line'}, ev.line));
        while (log.childElementCount > 2000) log.firstChild.remove();
        if (atEnd) log.scrollTop = log.scrollHeight;
      } else if (ev.kind === 'step') {
        stepItem = el('li', {class: 'step'}, `${ev.layer} STEP ${ev.step}/${ev.steps}: ${ev.text}`);
        steps.append(stepItem);
      } else if (ev.kind === 'step-done') {
        if (stepItem) stepItem.append(el('span', {class: 'muted'}, ` — ${(ev.seconds || 0).toFixed(1)} s${ev.cached ? ' (cached)' : ''}`));
      } else if (ev.kind === 'done') {
        const r = ev.result;
        fill(out, el('p', {class: 'ok', id: 'build-done'}, `Built ${r.image} (${short(r.image_id)}).`));
      } else if (ev.kind === 'error') {
        fill(out, el('div', {class: 'error', role: 'alert', id: 'build-error'}, el('pre', {}, ev.error)));
      } else {
        const l = lineOf(ev);
        if (l) steps.append(el('li', {}, l));
      }
    };
    // A build started elsewhere (the CLI, another page) is followed on
    // the events WebSocket: its steps and its end (output lines come
    // only with the build's own stream).
    events.on((ev) => {
      if (ev.type !== 'build' || !ev.build || ev.build.project !== name) return;
      // This page's own build comes with its stream (the WebSocket's
      // copy may arrive a little later).
      if (own || Date.now() < ownUntil) return;
      const end = ev.build.kind === 'done' || ev.build.kind === 'error';
      if (!other) {
        if (end) return; // the end of a build this page did not see start
        other = true;
        steps.hidden = false;
        fill(steps, ); fill(out, el('p', {class: 'muted', id: 'build-elsewhere'}, 'A build started elsewhere is running…'));
        load();
      }
      onEvent(ev.build);
      if (end) { other = false; load(); }
    });
    btn.onclick = async () => {
      own = true;
      btn.disabled = true;
      btn.textContent = 'Building…';
      steps.hidden = false;
      log.hidden = false;
      fill(steps, ); fill(log, ); fill(out, );
      stepItem = null;
      try {
        await agentsUI.postStream(`/projects/${encodeURIComponent(name)}/build?mode=${mode.value}`, (line) => { if (line.trim()) onEvent(JSON.parse(line)); });
      } catch (e) { fill(out, errBox(e)); }
      own = false;
      ownUntil = Date.now() + 5000;
      btn.disabled = false;
      btn.textContent = 'Build';
      load();
    };
    load();
    return card('Image', status, el('div', {class: 'row'}, btn, mode), out, steps, log);
  },

  // postStream POSTs to path and hands each line of the streamed answer
  // to onLine; an error answer before the stream is thrown.
  postStream(path, onLine) {
    return stream(path, onLine, undefined, {method: 'POST', headers: {'X-Terok-CSRF': C.csrf}});
  },

  // taskField is the new-task form's agent choice for project p (null
  // when its image has no agents): {node, value()}.
  taskField(p) {
    const agents = (p.build && p.build.agents) || [];
    if (!agents.length) return null;
    const def = p.build.default_agent || (agents.length === 1 ? agents[0] : '');
    const sel = el('select', {id: 'task-agent', name: 'agent'},
      el('option', {value: ''}, p.agent && p.agent.command ? 'none: the project\u2019s agent command' : 'none'),
      agents.map((a) => el('option', {value: a, selected: a === def && !(p.agent && p.agent.command)}, a)));
    return {
      node: el('div', {class: 'field'}, el('label', {for: 'task-agent'}, 'Agent'), sel),
      value: () => sel.value || undefined,
    };
  },

  // taskFacts are the task page's agent and image notes.
  taskFacts(t) {
    return t.agent ? [el('dt', {}, 'Agent'), el('dd', {id: 'task-agent-name'}, t.agent)] : null;
  },
  staleNote(t) {
    return t.image_stale ? el('p', {class: 'problem', id: 'image-stale'}, 'Image: ' + t.image_stale) : null;
  },
};
