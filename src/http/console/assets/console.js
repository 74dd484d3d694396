// The fte operator console: a dependency-free script (no build step) over
// the admin JSON API. It renders the escalation and approval queues, a
// conversation (transcript, events, claim / hand back / resolve, reply),
// the resident actors and channel health. Every piece of data reaches the
// page through textContent or attribute values, never parsed as HTML.
// Requests carry the session cookie (same origin) and the header
// X-Requested-With: fte-console, without which the server refuses changes.
(function () {
  'use strict';

  var HEADERS = { 'X-Requested-With': 'fte-console', 'Content-Type': 'application/json' };
  var REFRESH_MS = 10000;
  var state = { me: null, tab: 'escalations', conversation: null, busy: false };

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  // An element with properties (text, class, on<event>, other attributes)
  // and children (nodes, or strings added as text).
  function el(tag, props) {
    var node = document.createElement(tag);
    var key;
    props = props || {};
    for (key in props) {
      if (!Object.prototype.hasOwnProperty.call(props, key)) continue;
      var value = props[key];
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'class') node.className = value;
      else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { append(node, c); });
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // ---- time -------------------------------------------------------------

  function span(secs) {
    secs = Math.abs(secs);
    if (secs < 60) return Math.max(0, Math.round(secs)) + 's';
    if (secs < 3600) return Math.round(secs / 60) + 'm';
    if (secs < 86400) return (secs / 3600).toFixed(1).replace(/\.0$/, '') + 'h';
    return Math.round(secs / 86400) + 'd';
  }

  function ago(iso) {
    if (!iso) return '—';
    return span((Date.now() - Date.parse(iso)) / 1000) + ' ago';
  }

  function when(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  // ---- notices ----------------------------------------------------------

  var noticeTimer = null;

  function notify(message, kind) {
    var box = $('[data-testid=notice]');
    box.textContent = message;
    box.className = 'notice' + (kind === 'info' ? ' info' : '');
    box.setAttribute('data-kind', kind || 'error');
    box.hidden = false;
    if (noticeTimer) clearTimeout(noticeTimer);
    if (kind === 'info') noticeTimer = setTimeout(function () { box.hidden = true; }, 5000);
  }

  // ---- the API ------------------------------------------------------------

  function ApiError(status, detail) {
    this.status = status;
    this.message = detail;
  }
  ApiError.prototype = Object.create(Error.prototype);

  function tenantInput() {
    return $('[data-testid=tenant]');
  }

  // A global admin key names the tenant on every call; a tenant key has one.
  function withTenant(path) {
    if (!state.me || state.me.tenant) return path;
    var tenant = tenantInput().value.trim();
    if (!tenant) return path;
    return path + (path.indexOf('?') >= 0 ? '&' : '?') + 'tenant=' + encodeURIComponent(tenant);
  }

  function needsTenant() {
    return state.me && !state.me.tenant && !tenantInput().value.trim();
  }

  function parse(text) {
    if (!text) return null;
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function request(method, url, body) {
    var init = { method: method, credentials: 'same-origin', headers: HEADERS };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch(url, init).then(
      function (response) {
        return response.text().then(function (text) {
          return { status: response.status, ok: response.ok, data: parse(text) };
        });
      },
      function (e) { throw new ApiError(0, 'The server cannot be reached (' + e.message + ').'); }
    );
  }

  // The JSON of a successful call; an RFC 7807 problem becomes an ApiError
  // with its detail. 401: the session is over, back to the sign-in page.
  function api(method, path, body) {
    return request(method, withTenant(path), body).then(function (r) {
      if (r.status === 401) {
        signedOut();
        throw new ApiError(401, (r.data && r.data.detail) || 'Your session has ended.');
      }
      if (!r.ok) {
        var detail = r.data && (r.data.detail || r.data.title);
        throw new ApiError(r.status, detail || ('The request failed (HTTP ' + r.status + ').'));
      }
      return r.data;
    });
  }

  function signedOut() {
    notify('Your session has ended. Sign in again.');
    setTimeout(function () { window.location.assign('/admin'); }, 1500);
  }

  // ---- tabs ---------------------------------------------------------------

  var loaders = {};

  function showTab(name) {
    state.tab = name;
    $all('[data-tab]').forEach(function (b) {
      b.setAttribute('aria-selected', b.getAttribute('data-tab') === name ? 'true' : 'false');
    });
    $all('[data-panel]').forEach(function (p) {
      p.hidden = p.getAttribute('data-panel') !== name;
    });
    refresh();
  }

  function refresh() {
    if (needsTenant()) {
      notify('This is a global admin key: enter the tenant id to work in.', 'info');
      return;
    }
    var loader = loaders[state.tab];
    var jobs = [loader ? loader() : null];
    // The queue counts stay current whichever tab is open.
    if (state.tab !== 'escalations') jobs.push(loaders.escalations(true));
    if (state.tab !== 'approvals') jobs.push(loaders.approvals(true));
    if (state.conversation) jobs.push(loadConversation());
    return Promise.all(jobs.map(function (j) { return j && j.catch(report); }));
  }

  function report(e) {
    if (e && e.status === 401) return;
    notify(e && e.message ? e.message : String(e));
  }

  function setCount(which, n) {
    var badge = $('[data-count=' + which + ']');
    if (badge) badge.textContent = n === null ? '!' : (n ? String(n) : '');
  }

  // ---- escalation queue -------------------------------------------------------

  function slaCell(item) {
    if (!item.sla_due_at) return el('td', { text: '—' });
    var left = (Date.parse(item.sla_due_at) - Date.now()) / 1000;
    var overdue = item.overdue || left < 0;
    return el('td', {
      class: overdue ? 'overdue' : null,
      title: 'due ' + when(item.sla_due_at),
      'data-testid': 'escalation-sla',
      text: overdue ? 'overdue by ' + span(left) : 'due in ' + span(left)
    });
  }

  loaders.escalations = function (countOnly) {
    return api('GET', '/api/v1/escalations').then(function (data) {
      var items = (data && data.items) || [];
      setCount('escalations', items.length);
      if (countOnly) return;
      var body = clear($('[data-testid=escalation-rows]'));
      $('[data-empty=escalations]').hidden = items.length > 0;
      items.forEach(function (item) {
        var status = item.status + (item.claimed_by ? ' by ' + item.claimed_by.replace(/^key:[0-9a-f-]+:/, '') : '');
        var row = el('tr', {
          'data-testid': 'escalation-row',
          'data-escalation-id': item.id,
          'data-conversation-id': item.conversation_id,
          class: item.conversation_id === state.conversation ? 'selected' : null,
          tabindex: '0',
          onclick: function () { openConversation(item.conversation_id); },
          onkeydown: function (ev) { if (ev.key === 'Enter') openConversation(item.conversation_id); }
        },
          el('td', { class: 'urgency-' + item.urgency, text: item.urgency }),
          el('td', { text: item.reason }),
          el('td', { text: item.summary }),
          el('td', { 'data-testid': 'escalation-status', text: status }),
          slaCell(item),
          el('td', { title: when(item.created_at), text: ago(item.created_at) })
        );
        body.appendChild(row);
      });
    }, function (e) {
      setCount('escalations', null);
      if (!countOnly) throw e;
    });
  };

  // ---- approval queue ---------------------------------------------------------

  function approvalCard(item) {
    var draft = el('textarea', { rows: '4', 'data-testid': 'approval-draft' });
    draft.value = item.draft || '';
    var note = el('input', { placeholder: 'note (optional)', 'data-testid': 'approval-note', size: '24' });
    var buttons = [];
    var approve = el('button', { type: 'button', class: 'primary', 'data-testid': 'approve', text: 'Approve' });
    var edit = el('button', { type: 'button', 'data-testid': 'edit-send', text: 'Send edited', disabled: true });
    var reject = el('button', { type: 'button', class: 'danger', 'data-testid': 'reject', text: 'Reject' });
    var open = el('button', { type: 'button', 'data-testid': 'open-conversation', text: 'Open conversation' });
    buttons.push(approve, edit, reject);
    draft.addEventListener('input', function () {
      var changed = draft.value !== (item.draft || '');
      edit.disabled = !changed || !draft.value.trim();
      approve.disabled = changed;
      card.setAttribute('data-dirty', changed ? 'true' : 'false');
    });
    function act(what, body, done) {
      buttons.forEach(function (b) { b.disabled = true; });
      api('POST', '/api/v1/approvals/' + encodeURIComponent(item.id) + '/' + what, body).then(function () {
        notify(done, 'info');
        card.remove();
        return loaders.approvals();
      }).catch(function (e) {
        buttons.forEach(function (b) { b.disabled = false; });
        edit.disabled = draft.value === (item.draft || '') || !draft.value.trim();
        report(e);
      });
    }
    approve.addEventListener('click', function () { act('approve', {}, 'Draft approved and sent.'); });
    edit.addEventListener('click', function () { act('edit', { body: draft.value }, 'Edited reply sent.'); });
    reject.addEventListener('click', function () {
      var text = note.value.trim();
      act('reject', text ? { note: text } : {}, 'Draft rejected.');
    });
    open.addEventListener('click', function () { openConversation(item.conversation_id); });
    var confidence = typeof item.confidence === 'number' ? Math.round(item.confidence * 100) + '% confident' : '';
    var card = el('div', { class: 'card', 'data-testid': 'approval', 'data-approval-id': item.id, 'data-conversation-id': item.conversation_id },
      el('div', { class: 'meta' }, [item.channel, confidence, ago(item.created_at)].filter(Boolean).join(' · ')),
      el('div', { class: 'meta', text: 'Customer wrote:' }),
      el('blockquote', { 'data-testid': 'approval-message', text: item.customer_message || '' }),
      el('label', { class: 'meta', text: 'Draft reply (edit to send your own version):' }),
      draft,
      el('div', { class: 'buttons' }, approve, edit, reject, note, open)
    );
    return card;
  }

  loaders.approvals = function (countOnly) {
    return api('GET', '/api/v1/approvals').then(function (data) {
      var items = (data && data.items) || [];
      setCount('approvals', items.length);
      if (countOnly) return;
      var list = $('[data-testid=approval-items]');
      $('[data-empty=approvals]').hidden = items.length > 0;
      // Cards already shown stay as they are (a draft being edited is kept).
      var shown = {};
      $all('[data-approval-id]', list).forEach(function (card) { shown[card.getAttribute('data-approval-id')] = card; });
      var keep = {};
      items.forEach(function (item) {
        keep[item.id] = true;
        list.appendChild(shown[item.id] || approvalCard(item));
      });
      Object.keys(shown).forEach(function (id) { if (!keep[id]) shown[id].remove(); });
    }, function (e) {
      setCount('approvals', null);
      if (!countOnly) throw e;
    });
  };

  // ---- actors ---------------------------------------------------------------

  function cellText(value) {
    if (value === null || value === undefined) return '—';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function table(items, testid) {
    var columns = [];
    items.forEach(function (item) {
      Object.keys(item).forEach(function (k) { if (columns.indexOf(k) < 0) columns.push(k); });
    });
    return el('table', { 'data-testid': testid },
      el('thead', null, el('tr', null, columns.map(function (c) { return el('th', { text: c }); }))),
      el('tbody', null, items.map(function (item) {
        return el('tr', null, columns.map(function (c) { return el('td', { text: cellText(item[c]) }); }));
      }))
    );
  }

  function keyValues(object, testid) {
    var list = el('dl', { class: 'kv', 'data-testid': testid });
    Object.keys(object || {}).forEach(function (k) {
      list.appendChild(el('dt', { text: k }));
      list.appendChild(el('dd', { text: cellText(object[k]) }));
    });
    return list;
  }

  loaders.actors = function () {
    var actors = api('GET', '/api/v1/actors').then(function (data) {
      var items = (data && data.items) || [];
      var box = clear($('[data-testid=actor-table]'));
      box.appendChild(items.length ? table(items, 'actors-table')
        : el('p', { class: 'muted', text: 'No conversation actors are resident in this process for this tenant.' }));
    });
    var stats = api('GET', '/api/v1/runtime/stats').then(function (data) {
      clear($('[data-testid=runtime-stats]')).appendChild(keyValues(data, 'stats'));
    }, function (e) {
      if (e.status === 401) throw e;
      clear($('[data-testid=runtime-stats]')).appendChild(el('p', { class: 'muted', text: e.message }));
    });
    return Promise.all([actors, stats]);
  };

  // ---- channel health -------------------------------------------------------

  function statusText(check) {
    if (!check) return '—';
    var parts = [check.status];
    if (typeof check.latency_ms === 'number') parts.push(check.latency_ms + ' ms');
    if (check.error) parts.push(check.error);
    return parts.join(' · ');
  }

  var CHANNEL_COLUMNS = [
    { title: 'Channel', keys: ['channel', 'provider'] },
    { title: 'Address', keys: ['address'] },
    { title: 'Status', keys: ['status'], kind: 'status' },
    { title: 'Last inbound', keys: ['last_inbound_at'], kind: 'time' },
    { title: 'Last outbound', keys: ['last_outbound_at'], kind: 'time' },
    { title: 'Sent 24h', keys: ['sent_24h'] },
    { title: 'Failed 24h', keys: ['failed_24h'] },
    { title: 'Sent 1h', keys: ['sent_1h'] },
    { title: 'Failed 1h', keys: ['failed_1h'] },
    { title: 'Error rate', keys: ['error_rate_1h', 'error_rate'], kind: 'rate' }
  ];

  function percent(rate) {
    return typeof rate === 'number' ? (rate * 100).toFixed(1) + '%' : cellText(rate);
  }

  loaders.channels = function () {
    return request('GET', '/health').then(function (r) {
      var box = clear($('[data-testid=health]'));
      var health = r.data;
      if (!health || !health.checks) {
        box.appendChild(el('p', { class: 'error', text: 'The health report could not be read (HTTP ' + r.status + ').' }));
        return;
      }
      var checks = health.checks;
      box.appendChild(el('p', null, 'Overall: ',
        el('strong', { class: 'status-' + health.status, 'data-testid': 'health-status', text: health.status }),
        health.version ? ' (version ' + health.version + ')' : ''));
      box.appendChild(el('dl', { class: 'kv' },
        el('dt', { text: 'PostgreSQL' }), el('dd', { class: 'status-' + (checks.postgres && checks.postgres.status), text: statusText(checks.postgres) }),
        el('dt', { text: 'Kafka' }), el('dd', { class: 'status-' + (checks.kafka && checks.kafka.status), text: statusText(checks.kafka) })));
      var channels = checks.channels;
      box.appendChild(el('h3', { text: 'Channels' }));
      if (!Array.isArray(channels)) {
        box.appendChild(el('p', { class: 'muted', text: 'This server reports no per-channel figures.' }));
        return;
      }
      if (!channels.length) {
        box.appendChild(el('p', { class: 'muted', text: 'No per-channel figures were reported.' }));
        return;
      }
      // Columns for the fields the server reports (whichever of them it has).
      var columns = CHANNEL_COLUMNS.filter(function (col) {
        return channels.some(function (c) { return col.keys.some(function (k) { return k in c; }); });
      });
      function value(c, col) {
        for (var i = 0; i < col.keys.length; i++) if (col.keys[i] in c) return c[col.keys[i]];
        return null;
      }
      box.appendChild(el('table', { 'data-testid': 'channel-table' },
        el('thead', null, el('tr', null, columns.map(function (col) { return el('th', { text: col.title }); }))),
        el('tbody', null, channels.map(function (c) {
          return el('tr', { 'data-testid': 'channel-row', 'data-channel': c.channel || c.provider || '' },
            columns.map(function (col) {
              var v = value(c, col);
              if (col.kind === 'time') return el('td', { title: when(v), text: v ? ago(v) : 'never' });
              if (col.kind === 'rate') return el('td', { text: percent(v) });
              if (col.kind === 'status') return el('td', { class: 'status-' + v, 'data-testid': 'channel-status', text: cellText(v) });
              return el('td', { text: cellText(v) });
            }));
        }))));
    });
  };

  // ---- one conversation -------------------------------------------------------

  function openConversation(id) {
    state.conversation = id;
    $all('[data-testid=escalation-row]').forEach(function (row) {
      row.classList.toggle('selected', row.getAttribute('data-conversation-id') === id);
    });
    var view = $('[data-testid=conversation]');
    view.setAttribute('data-conversation-id', id);
    clear($('[data-testid=transcript]'));
    clear($('[data-testid=events]'));
    ['state', 'channel', 'customer', 'updated'].forEach(function (f) {
      $('[data-testid=conversation-' + f + ']').textContent = '…';
    });
    view.hidden = false;
    return loadConversation().catch(report);
  }

  function closeConversation() {
    state.conversation = null;
    $('[data-testid=conversation]').hidden = true;
    $all('[data-testid=escalation-row]').forEach(function (row) { row.classList.remove('selected'); });
  }

  function loadConversation() {
    var id = state.conversation;
    if (!id) return Promise.resolve();
    return api('GET', '/api/v1/conversations/' + encodeURIComponent(id)).then(function (d) {
      if (state.conversation !== id || !d) return;
      var c = d.conversation || {};
      $('[data-testid=conversation-title]').textContent = c.subject || 'Conversation';
      var stateCell = $('[data-testid=conversation-state]');
      stateCell.textContent = c.state || '—';
      stateCell.setAttribute('data-state', c.state || '');
      $('[data-testid=conversation-channel]').textContent = c.current_channel || '—';
      $('[data-testid=conversation-customer]').textContent = c.customer_id || '—';
      var updated = $('[data-testid=conversation-updated]');
      updated.textContent = ago(c.updated_at);
      updated.title = when(c.updated_at);
      var transcript = clear($('[data-testid=transcript]'));
      (d.messages || []).forEach(function (m) {
        transcript.appendChild(el('li', { 'data-testid': 'message', 'data-direction': m.direction, 'data-message-id': m.id },
          el('div', { class: 'meta' },
            [m.author, m.direction, m.channel, when(m.created_at), m.direction === 'outbound' ? m.delivery_status : null]
              .filter(Boolean).join(' · ')),
          el('div', { class: 'body', 'data-testid': 'message-body', text: m.body })));
      });
      var events = clear($('[data-testid=events]'));
      (d.events || []).forEach(function (e) {
        events.appendChild(el('li', { 'data-testid': 'event' },
          el('div', { class: 'meta' }, '#' + e.seq + ' ' + e.event_type + ' · ' + e.state_before + ' → ' + e.state_after + ' · ' + when(e.created_at)),
          e.payload && Object.keys(e.payload).length ? el('pre', { text: JSON.stringify(e.payload, null, 2) }) : null));
      });
    });
  }

  function actionButtons() {
    return $all('[data-testid=claim], [data-testid=handback], [data-testid=resolve], [data-testid=reply-send]');
  }

  function busy(on) {
    state.busy = on;
    actionButtons().forEach(function (b) { b.disabled = on; });
  }

  function step(name, done) {
    var id = state.conversation;
    if (!id || state.busy) return;
    busy(true);
    api('POST', '/api/v1/conversations/' + encodeURIComponent(id) + '/' + name, {}).then(function () {
      notify(done, 'info');
      return Promise.all([loadConversation(), loaders.escalations(state.tab !== 'escalations')]);
    }).catch(report).then(function () { busy(false); });
  }

  function sendReply(ev) {
    ev.preventDefault();
    var id = state.conversation;
    var box = $('[data-testid=reply-body]');
    var text = box.value.trim();
    if (!id || state.busy) return;
    if (!text) {
      notify('Write a reply first.');
      return;
    }
    busy(true);
    api('POST', '/api/v1/conversations/' + encodeURIComponent(id) + '/reply', { body: text }).then(function () {
      box.value = '';
      notify('Reply sent to the customer.', 'info');
      return loadConversation();
    }).catch(report).then(function () { busy(false); });
  }

  // ---- start ----------------------------------------------------------------

  function signOut() {
    request('POST', '/admin/logout').then(function () {
      window.location.assign('/admin');
    }, report);
  }

  function start() {
    $all('[data-tab]').forEach(function (b) {
      b.addEventListener('click', function () { showTab(b.getAttribute('data-tab')); });
    });
    $('[data-testid=refresh]').addEventListener('click', function () { refresh(); });
    $('[data-testid=sign-out]').addEventListener('click', signOut);
    $('[data-testid=close-conversation]').addEventListener('click', closeConversation);
    $('[data-testid=claim]').addEventListener('click', function () { step('claim', 'Claimed: the conversation is yours.'); });
    $('[data-testid=handback]').addEventListener('click', function () { step('handback', 'Handed back to the AI.'); });
    $('[data-testid=resolve]').addEventListener('click', function () { step('resolve', 'Resolved.'); });
    $('[data-testid=reply-form]').addEventListener('submit', sendReply);
    var tenant = tenantInput();
    tenant.addEventListener('change', function () {
      try { window.sessionStorage.setItem('fte.tenant', tenant.value.trim()); } catch (e) { /* storage off */ }
      closeConversation();
      refresh();
    });
    api('GET', '/admin/session').then(function (me) {
      state.me = me;
      $('[data-testid=signed-in-as]').textContent = me.name + ' (' + me.role + ')';
      if (me.tenant) {
        tenant.value = me.tenant;
        tenant.readOnly = true;
      } else {
        try { tenant.value = window.sessionStorage.getItem('fte.tenant') || ''; } catch (e) { /* storage off */ }
      }
      document.body.setAttribute('data-ready', 'true');
      showTab('escalations');
      setInterval(function () { if (!state.busy) refresh(); }, REFRESH_MS);
    }).catch(report);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
