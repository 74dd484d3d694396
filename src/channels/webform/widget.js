/*
 * Support form widget, served at /support/widget.js. No dependencies, no build step.
 *
 * <fte-support-form endpoint="https://support.example.com" widget-key="KEY">
 *   The request form. POSTs JSON to {endpoint}/support/api/tickets, shows the server's
 *   field errors next to the fields, then the ticket reference, a link to the status
 *   page and the live status below it.
 * <fte-support-status endpoint="…" ticket-id="UUID" token="TOKEN">
 *   The status view. Without ticket-id/token it reads them from the page URL
 *   (/support/tickets/{id}?token=…). Polls {endpoint}/support/api/tickets/{id}?token=…
 *   every few seconds until a reply from the assistant or the team is there (after a
 *   holding reply, an automatic `system` message, every half minute).
 *
 * endpoint defaults to this script's origin. One tag is enough to embed the form:
 *   <script src="https://support.example.com/support/widget.js" data-widget-key="KEY"></script>
 * renders a form where the tag is, unless the page has one of the elements itself.
 * Server data is only ever shown as text (textContent), never parsed as HTML.
 */
(() => {
  'use strict';
  const script = document.currentScript;
  const SCRIPT_ORIGIN = script && script.src ? new URL(script.src, location.href).origin : location.origin;

  // Mirrors src/channels/webform/request.rs (a Rust test checks these lines).
  const LIMITS = { name: [1, 100], subject: [1, 200], message: [10, 5000] };
  const CATEGORIES = [
    ['general', 'General question'],
    ['technical', "Something isn't working"],
    ['billing', 'Billing, plans and invoices'],
    ['account', 'Account, users and sign-in'],
    ['integrations', 'Integrations and API'],
    ['security_privacy', 'Security, privacy and compliance'],
    ['feature_request', 'Feature request'],
    ['feedback', 'Feedback or complaint'],
  ];
  const STATUS_LABELS = {
    open: "Open: we're working on it", pending: 'Waiting for your reply', escalated: 'With a specialist',
    resolved: 'Resolved', closed: 'Closed',
  };
  // Every author the status API sends (a Rust test checks the list): `system` messages are
  // the automatic ones, such as the holding reply when a request is handed to the team.
  const AUTHORS = { customer: 'You', ai: 'AI assistant', human: 'Support team', system: 'Support (automatic message)' };
  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
  const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
  const CONTROL_IN_MESSAGE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/; // after CR/CRLF -> LF
  const MAX_POLL_MS = 30 * 60 * 1000;
  const NOT_FOUND_RETRIES = 12;

  const CSS = `
    :host { display: block; max-width: 40rem; font: 16px/1.5 system-ui, sans-serif; color: #1d2433; }
    [hidden] { display: none !important; }
    .field { margin: 0 0 1rem; } label { display: block; font-weight: 600; margin-bottom: .25rem; }
    input, select, textarea { box-sizing: border-box; width: 100%; font: inherit; padding: .5rem;
      border: 1px solid #8a94a6; border-radius: 4px; background: #fff; color: inherit; }
    textarea { min-height: 10rem; resize: vertical; }
    input:focus, select:focus, textarea:focus, button:focus, a:focus { outline: 3px solid #2f6fde; outline-offset: 1px; }
    [aria-invalid="true"] { border-color: #b3261e; }
    .hint, .meta { font-size: .875rem; color: #4a5568; margin: .25rem 0 0; }
    .error, .alert { color: #b3261e; font-size: .875rem; margin: .25rem 0 0; } .alert { font-size: 1rem; }
    .hp { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
    button { font: inherit; font-weight: 600; padding: .6rem 1.4rem; border: 0; border-radius: 4px;
      background: #2f6fde; color: #fff; cursor: pointer; }
    button[disabled] { opacity: .6; cursor: progress; }
    .messages { list-style: none; padding: 0; }
    .messages article { border-left: 4px solid #c3cad6; padding: .25rem .75rem; margin: 0 0 1rem; }
    .messages article[data-author="ai"], .messages article[data-author="human"] { border-color: #2f6fde; }
    .messages article[data-author="system"] { border-color: #8a94a6; background: #f5f7fa; }
    .body { white-space: pre-wrap; overflow-wrap: anywhere; margin: .25rem 0 0; }
  `;

  /** Builds an element: attrs are attributes (false/null skipped), children are nodes or text. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  const chars = (s) => [...s].length;
  const endpointOf = (host) => (host.getAttribute('endpoint') || SCRIPT_ORIGIN).replace(/\/+$/, '');

  function shadow(host) {
    const root = host.attachShadow({ mode: 'open' });
    if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(el('style', {}, CSS));
    }
    return root;
  }

  function formatTime(value) {
    const d = new Date(value);
    return isNaN(d) ? String(value || '') : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  // ---- Client-side checks: same rules and wording as the server ----

  function validEmail(s) {
    if (s.length > 254 || /[\s<>,;"]/.test(s) || CONTROL.test(s)) return false;
    const at = s.indexOf('@');
    const local = s.slice(0, at);
    const domain = s.slice(at + 1);
    return at > 0 && local.length <= 64 && domain !== '' && !domain.includes('@') &&
      !domain.startsWith('.') && !domain.endsWith('.') && !domain.includes('..');
  }

  function validPhone(s) {
    const rest = s.startsWith('+') ? s.slice(1) : s.startsWith('00') ? s.slice(2) : null;
    if (rest === null || !/^[0-9 .()\-\u00a0]*$/.test(rest)) return false;
    const digits = rest.replace(/[^0-9]/g, '');
    return digits.length >= 8 && digits.length <= 15 && digits[0] !== '0';
  }

  function textError(value, missing, max) {
    if (value === '') return missing;
    if (CONTROL.test(value)) return "This contains characters that can't be accepted (control characters).";
    if (chars(value) > max) return `Please keep this to ${max} characters or fewer.`;
    return null;
  }

  function validate(v) {
    const errors = {};
    const put = (field, message) => { if (message) errors[field] = message; };
    put('name', textError(v.name, 'Please enter your name.', LIMITS.name[1]));
    put('email', v.email === '' ? 'Please enter your email address.'
      : validEmail(v.email) ? null : 'Please enter a valid email address, like name@example.com.');
    put('phone', v.phone === '' || validPhone(v.phone) ? null
      : 'Please enter the number in international format, starting with + and the country code (for example +31 20 808 4417).');
    put('subject', textError(v.subject, 'Please add a subject.', LIMITS.subject[1]));
    put('category', v.category === '' ? 'Please choose a topic.'
      : CATEGORIES.some(([id]) => id === v.category) ? null : 'Please choose one of the listed topics.');
    const n = chars(v.message);
    put('message', v.message === '' ? 'Please tell us how we can help.'
      : CONTROL_IN_MESSAGE.test(v.message) ? "This contains characters that can't be accepted (control characters)."
      : n < LIMITS.message[0] ? `Please write at least ${LIMITS.message[0]} characters so we can help.`
      : n > LIMITS.message[1] ? `Please keep your message to ${LIMITS.message[1]} characters or fewer (it has ${n}).`
      : null);
    return errors;
  }

  // ---- The status view, shared by both elements ----

  class StatusView {
    constructor(root, { endpoint, ticketId, token, pollSeconds, showHeader }) {
      this.url = `${endpoint}/support/api/tickets/${encodeURIComponent(ticketId)}?token=${encodeURIComponent(token)}`;
      this.pollMs = Math.max(1, pollSeconds || 5) * 1000;
      this.started = Date.now();
      this.notFound = 0;
      this.lastMessages = '';
      this.timer = null;
      this.stopped = false;
      // The form shows its own receipt above the view, so only the status page has this header.
      this.reference = el('span', { id: 'ticket-reference', 'data-testid': 'ticket-reference' });
      this.subject = el('p', { id: 'ticket-subject', 'data-testid': 'ticket-subject' });
      this.created = el('p', { class: 'meta', id: 'ticket-created', 'data-testid': 'ticket-created' });
      this.header = showHeader ? el('div', {}, el('h2', {}, 'Request ', this.reference), this.subject, this.created) : '';
      this.status = el('span', { id: 'ticket-status', 'data-testid': 'status', 'data-status': '' }, 'Checking…');
      this.note = el('p', { class: 'hint', id: 'status-note', 'data-testid': 'status-note' });
      this.error = el('p', { class: 'alert', id: 'status-error', 'data-testid': 'status-error', role: 'alert', hidden: true });
      this.list = el('ol', { class: 'messages', id: 'messages', 'data-testid': 'messages', 'aria-live': 'polite' });
      root.append(el('section', { 'aria-label': 'Request status' }, this.header,
        el('p', { role: 'status' }, 'Status: ', this.status), this.note, this.error, this.list));
    }

    start() { this.poll(); }
    stop() { this.stopped = true; clearTimeout(this.timer); }

    fail(message) {
      this.error.textContent = message;
      this.error.hidden = false;
      this.note.textContent = '';
      this.stop();
    }

    schedule(note, delay = this.pollMs) {
      if (this.stopped) return;
      if (Date.now() - this.started > MAX_POLL_MS) {
        this.note.textContent = 'Reload this page to check for new replies. We also reply by email.';
        return this.stop();
      }
      if (note !== undefined) this.note.textContent = note;
      this.timer = setTimeout(() => this.poll(), delay);
    }

    async poll() {
      if (this.stopped) return;
      let res;
      try {
        res = await fetch(this.url, { headers: { Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
      } catch (_) {
        return this.schedule("We couldn't check for updates just now. Trying again…");
      }
      if (res.status === 403) return this.fail("This status link isn't valid. Please use the full link from your confirmation email or page.");
      if (res.status === 404) {
        this.notFound += 1;
        if (this.notFound > NOT_FOUND_RETRIES) return this.fail("We couldn't find this request. Please check the link.");
        return this.schedule('Your request is being registered…');
      }
      if (res.status === 429) return this.schedule(undefined, this.pollMs * 3);
      if (!res.ok) return this.schedule("We couldn't check for updates just now. Trying again…");
      let data;
      try { data = await res.json(); } catch (_) { data = null; }
      if (!data || !Array.isArray(data.messages)) return this.schedule("We couldn't read the latest update. Trying again…");
      this.render(data);
      const replied = data.messages.some((m) => m.author === 'ai' || m.author === 'human');
      if (replied || data.status === 'resolved' || data.status === 'closed') {
        this.note.textContent = replied ? 'We have replied below, and by email.' : '';
        return this.stop();
      }
      // A holding reply: a person answers later, so there is no hurry to ask again.
      if (data.messages.some((m) => m.author === 'system')) {
        return this.schedule('Our team will reply here and by email.', this.pollMs * 6);
      }
      this.schedule('Checking for a reply every few seconds. We will also reply by email.');
    }

    render(data) {
      this.reference.textContent = String(data.reference || '');
      this.subject.textContent = String(data.subject || '');
      this.created.textContent = data.created_at ? `Sent ${formatTime(data.created_at)}` : '';
      const status = String(data.status || '');
      this.status.textContent = STATUS_LABELS[status] || status;
      this.status.setAttribute('data-status', status);
      const key = JSON.stringify(data.messages);
      if (key === this.lastMessages) return;
      this.lastMessages = key;
      this.list.replaceChildren(...data.messages.map((m) => {
        const author = String(m.author);
        const testid = author === 'customer' ? 'customer-message' : 'reply';
        return el('li', {}, el('article', { 'data-testid': testid, 'data-author': author },
          el('p', { class: 'meta' }, el('strong', {}, AUTHORS[author] || author), ' · ',
            el('time', { datetime: String(m.created_at || '') }, formatTime(m.created_at))),
          el('p', { class: 'body', 'data-testid': `${testid}-body` }, String(m.body || ''))));
      }));
    }
  }

  // ---- <fte-support-form> ----

  const FIELDS = [
    { id: 'name', label: 'Your name', type: 'text', autocomplete: 'name', max: LIMITS.name[1] },
    { id: 'email', label: 'Email address', type: 'email', autocomplete: 'email', max: 254,
      hint: "We'll send our reply here." },
    { id: 'phone', label: 'Phone (optional)', type: 'tel', autocomplete: 'tel', optional: true,
      hint: 'International format, for example +31 20 808 4417.' },
    { id: 'category', label: 'Topic', select: true },
    { id: 'subject', label: 'Subject', type: 'text', max: LIMITS.subject[1] },
    { id: 'message', label: 'How can we help?', textarea: true,
      hint: `At least ${LIMITS.message[0]} characters. Include any steps or error messages you see.` },
  ];

  class SupportForm extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      this.root = shadow(this);
      this.busy = false;
      this.form = el('form', { novalidate: true, id: 'support-form', 'data-testid': 'support-form', 'aria-label': 'Contact support' });
      for (const f of FIELDS) this.form.append(this.fieldRow(f));
      this.form.append(el('div', { class: 'hp', 'aria-hidden': 'true' },
        el('label', { for: 'website' }, 'Website (leave empty)'),
        el('input', { id: 'website', name: 'website', 'data-testid': 'website', type: 'text', tabindex: '-1', autocomplete: 'off' })));
      this.formError = el('p', { class: 'alert', id: 'form-error', 'data-testid': 'form-error', role: 'alert', hidden: true });
      this.button = el('button', { type: 'submit', id: 'submit', 'data-testid': 'submit' }, 'Send request');
      this.form.append(this.formError, this.button);
      this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
      this.field('message').addEventListener('input', () => this.updateCount());
      this.root.append(this.form);
      this.updateCount();
    }

    disconnectedCallback() { if (this.view) this.view.stop(); }
    field(id) { return this.form.querySelector(`#${id}`); }

    fieldRow(f) {
      const describedBy = [f.hint && `${f.id}-hint`, f.id === 'message' && 'message-count', `${f.id}-error`].filter(Boolean).join(' ');
      const common = { id: f.id, name: f.id, 'data-testid': f.id, 'aria-describedby': describedBy,
        required: !f.optional, 'aria-required': f.optional ? 'false' : 'true' };
      let control;
      if (f.select) {
        control = el('select', common, el('option', { value: '', selected: true, disabled: true }, 'Choose a topic'),
          ...CATEGORIES.map(([value, label]) => el('option', { value }, label)));
      } else if (f.textarea) {
        control = el('textarea', { ...common, rows: 8 });
      } else {
        control = el('input', { ...common, type: f.type, autocomplete: f.autocomplete, maxlength: f.max });
      }
      return el('div', { class: 'field' },
        el('label', { for: f.id }, f.label),
        control,
        f.hint ? el('p', { class: 'hint', id: `${f.id}-hint` }, f.hint) : '',
        f.id === 'message' ? el('p', { class: 'hint', id: 'message-count', 'data-testid': 'message-count' }) : '',
        el('p', { class: 'error', id: `${f.id}-error`, 'data-testid': `error-${f.id}`, hidden: true }));
    }

    updateCount() {
      const n = chars(this.field('message').value);
      this.form.querySelector('#message-count').textContent = `${n} / ${LIMITS.message[1]} characters`;
    }

    values() {
      const v = {};
      for (const f of FIELDS) v[f.id] = this.field(f.id).value.trim();
      v.message = this.field('message').value.replace(/\r\n?/g, '\n').trim();
      return v;
    }

    showErrors(errors) {
      for (const f of FIELDS) {
        const message = errors[f.id];
        const box = this.form.querySelector(`#${f.id}-error`);
        box.textContent = message || '';
        box.hidden = !message;
        this.field(f.id).setAttribute('aria-invalid', message ? 'true' : 'false');
      }
      const first = FIELDS.find((f) => errors[f.id]);
      if (first) this.field(first.id).focus();
    }

    showFormError(message) { this.formError.textContent = message || ''; this.formError.hidden = !message; }

    async submit() {
      if (this.busy || this.sent) return;
      const v = this.values();
      const errors = validate(v);
      this.showErrors(errors);
      this.showFormError('');
      if (Object.keys(errors).length) return;
      const key = this.getAttribute('widget-key') || (script && script.dataset.widgetKey) || '';
      const body = { ...v, website: this.field('website').value, widget_key: key };
      this.busy = true;
      this.button.disabled = true;
      this.button.textContent = 'Sending…';
      try {
        await this.send(body);
      } finally {
        this.busy = false;
        this.button.disabled = Boolean(this.sent);
        this.button.textContent = 'Send request';
      }
    }

    async send(body) {
      const endpoint = endpointOf(this);
      let res;
      try {
        res = await fetch(`${endpoint}/support/api/tickets`, {
          method: 'POST', credentials: 'omit',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify(body),
        });
      } catch (_) {
        return this.showFormError("We couldn't send your request. Please check your connection and try again.");
      }
      let data = null;
      try { data = await res.json(); } catch (_) { data = null; }
      if (res.ok && data && data.ticket_id && data.reference) return this.showReceipt(data, body, endpoint);
      if (res.status === 400 || res.status === 422) {
        // `detail` is for developers; the field messages are written for the person at the form.
        const byField = {};
        const other = [];
        for (const e of (data && Array.isArray(data.errors) ? data.errors : [])) {
          if (FIELDS.some((f) => f.id === e.field)) byField[e.field] = String(e.message);
          else other.push(String(e.message));
        }
        this.showErrors(byField);
        const lead = Object.keys(byField).length ? 'Please check the highlighted fields and try again.' : '';
        return this.showFormError([lead, ...other].filter(Boolean).join(' ') ||
          "We couldn't accept the form. Please reload the page and try again.");
      }
      if (res.ok) {
        this.sent = true; // stored, though the answer is unreadable: don't invite a duplicate
        return this.showFormError("Your request was sent, but we couldn't show the confirmation. We'll reply by email.");
      }
      if (res.status === 413) return this.showFormError('Your message is too long to send. Please shorten it and try again.');
      if (res.status === 429) return this.showFormError("You've sent several requests in a short time. Please wait a minute and try again.");
      this.showFormError('Something went wrong on our side and your request was not sent. Please try again in a few minutes.');
    }

    showReceipt(data, body, endpoint) {
      const statusHref = new URL(data.status_url ||
        `/support/tickets/${encodeURIComponent(data.ticket_id)}?token=${encodeURIComponent(data.token)}`, `${endpoint}/`).href;
      const firstName = body.name.split(/\s+/)[0];
      const heading = el('h2', { tabindex: '-1', id: 'receipt-heading' }, `Thanks, ${firstName}. We've received your request.`);
      const receipt = el('section', { id: 'receipt', 'data-testid': 'receipt' }, heading,
        el('p', {}, 'Your reference: ', el('strong', { id: 'ticket-reference', 'data-testid': 'ticket-reference' }, String(data.reference))),
        el('p', {}, `We'll reply by email to ${body.email}. You can also follow your request here: `,
          el('a', { href: statusHref, id: 'status-link', 'data-testid': 'status-link' }, 'View request status')));
      this.form.replaceWith(receipt);
      heading.focus();
      if (!UUID_RE.test(String(data.ticket_id)) || !TOKEN_RE.test(String(data.token))) return;
      this.view = new StatusView(receipt, { endpoint, ticketId: data.ticket_id, token: data.token,
        pollSeconds: Number(this.getAttribute('poll-interval')) || 5, showHeader: false });
      this.view.start();
    }
  }

  // ---- <fte-support-status> ----

  class SupportStatus extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      const root = shadow(this);
      const fromPath = location.pathname.match(/\/support\/tickets\/([^/]+)\/?$/);
      const ticketId = this.getAttribute('ticket-id') || (fromPath ? decodeURIComponent(fromPath[1]) : '');
      const token = this.getAttribute('token') || new URLSearchParams(location.search).get('token') || '';
      this.view = new StatusView(root, { endpoint: endpointOf(this), ticketId, token,
        pollSeconds: Number(this.getAttribute('poll-interval')) || 5, showHeader: true });
      if (!UUID_RE.test(ticketId) || !TOKEN_RE.test(token)) {
        this.view.status.textContent = 'Unknown';
        return this.view.fail('This status link is incomplete. Please use the full link from your confirmation.');
      }
      this.view.start();
    }

    disconnectedCallback() { if (this.view) this.view.stop(); }
  }

  if (!customElements.get('fte-support-form')) customElements.define('fte-support-form', SupportForm);
  if (!customElements.get('fte-support-status')) customElements.define('fte-support-status', SupportStatus);

  // One script tag with data-widget-key and no element on the page: put a form where the tag is.
  function autoMount() {
    if (!script || script.dataset.widgetKey === undefined) return;
    if (document.querySelector('fte-support-form, fte-support-status')) return;
    const form = el('fte-support-form', { 'widget-key': script.dataset.widgetKey, endpoint: script.dataset.endpoint || null });
    if (script.parentNode && script.parentNode !== document.head) script.after(form);
    else document.body.append(form);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoMount);
  else autoMount();
})();
