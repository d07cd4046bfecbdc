// ragchat client: the one browser module the chat page and the agent
// console share, and what the migration guide hands to web clients leaving
// SockJS. Plain ES module, no build step, no dependencies.
//
//   import { HttpApi, ChatSocket } from './ragchat-client.js';
//
// HttpApi calls the HTTP API (login, rooms, history). ChatSocket keeps one
// room's WebSocket open and implements DESIGN.md's client rules:
//   - reconnects with exponential backoff and jitter (1 s doubling to 30 s);
//     after every (re)connect it awaits onOpen (where a page reads the
//     history) before it resends anything;
//   - every question gets a clientMessageId and stays in an outbox until a
//     frame of its answer arrives, or until onOpen reports it as stored (a
//     history message with that clientMessageId); what remains is resent
//     after a reconnect (the server answers a repeat without asking again);
//   - answer frames (delta, complete, error) are assembled per messageId in
//     seq order; a seq already held is dropped; a new connection starts an
//     answer over (its first frame has seq 1 and all the text so far); the
//     complete frame's answer repairs the text;
//   - ANSWER_IN_PROGRESS and RATE_LIMITED keep the question in the outbox
//     and resend it after a growing delay; TOKEN_EXPIRED stops the socket;
//   - {"action":"ping"} every 5 minutes while open (API Gateway closes a
//     socket idle for 10 minutes);
//   - frames that are not JSON objects, frames without a type (API
//     Gateway's own) and frames of unknown types are ignored.

export const PING_INTERVAL_MS = 5 * 60 * 1000;
export const RECONNECT_BASE_MS = 1000;
export const RECONNECT_MAX_MS = 30000;

// Codes of error frames that refuse a question rather than end an answer.
export const REFUSAL_CODES = new Set([
  'INVALID_MESSAGE', 'UNKNOWN_ACTION', 'ANSWER_IN_PROGRESS', 'RATE_LIMITED',
  'TOKEN_EXPIRED', 'ROOM_CLOSED', 'NOT_ASSIGNED',
]);

// Refusals the client retries by itself, with their first delay.
const RETRY_AFTER_MS = { ANSWER_IN_PROGRESS: 2000, RATE_LIMITED: 10000 };
const RETRY_MAX_MS = 60000;

const CLIENT_ID_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** newClientMessageId returns "c-" and 20 random characters of [a-z0-9]. */
export function newClientMessageId() {
  const bytes = new Uint8Array(20);
  crypto.getRandomValues(bytes);
  let id = 'c-';
  for (const b of bytes) id += CLIENT_ID_CHARS[b % CLIENT_ID_CHARS.length];
  return id;
}

/** ApiError is a failed HTTP API call: status 0 means no response. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * HttpApi calls the HTTP API at base ('' means the page's origin). token()
 * returns the bearer token to send, or '' for none.
 */
export class HttpApi {
  constructor(base, token = () => '') {
    this.base = String(base || '').replace(/\/+$/, '');
    this.token = token;
  }

  /** request sends one call and returns its JSON body; it throws ApiError. */
  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, 'NETWORK', 'The server cannot be reached.');
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) throw new ApiError(res.status, (data && data.code) || `HTTP_${res.status}`, (data && data.message) || res.statusText);
    return data;
  }

  /** login logs in as a customer, or as an agent with {agent: true}. */
  login(companyId, id, password, { agent = false } = {}) {
    const who = agent ? 'agent' : 'customer';
    return this.request('POST', `/api/${who}/${encodeURIComponent(companyId)}/login`, { id, password });
  }

  /** createRoom opens a chatbot room for the caller. */
  createRoom() {
    return this.request('POST', '/api/customer/chatbot');
  }

  /** rooms lists the caller's rooms, newest first: {rooms, nextCursor}. */
  rooms({ limit, cursor, agent = false, status } = {}) {
    const q = query({ limit, cursor, status });
    return this.request('GET', `/api/${agent ? 'agent' : 'customer'}/rooms${q}`);
  }

  /** messages reads a page of a room's history: {roomId, status, messages, nextCursor}. */
  messages(roomId, { limit, before, agent = false } = {}) {
    const q = query({ limit, before });
    return this.request('GET', `/api/${agent ? 'agent' : 'customer'}/rooms/${encodeURIComponent(roomId)}/messages${q}`);
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * ChatSocket is one room's WebSocket. Options (all callbacks optional):
 *   url():                the socket URL, e.g. wss://…/prod?token=…&roomId=…
 *   onState(state, info): 'connecting' | 'open' | 'waiting' ({retryInMs, attempts}) | 'closed'
 *   onOpen({reconnect}):  after each open, before resending; may return (a
 *                         Promise of) the clientMessageIds known stored
 *   onAnswer(answer):     {messageId, clientMessageId, text, state:
 *                         'streaming'|'complete'|'error', code, message}
 *   onMessage(frame):     a message frame (a question from another socket, an agent, the system)
 *   onStatus(frame):      a status frame
 *   onRefused(refusal):   {clientMessageId, code, message, retryInMs} (retryInMs 0: given up)
 *   onTokenExpired():     the server refused the token; the socket stays closed
 *   WebSocket:            the WebSocket constructor (tests)
 */
export class ChatSocket {
  constructor(opts) {
    this.opts = opts;
    this.WS = opts.WebSocket || globalThis.WebSocket;
    this.ws = null;
    this.gen = 0; // numbers sockets; events of a replaced socket are ignored
    this.attempts = 0;
    this.everOpened = false;
    this.wanted = false;
    this.timers = new Set();
    this.pingTimer = 0;
    this.outbox = new Map(); // clientMessageId -> {body, retries, timer}
    this.answers = new Map(); // messageId -> {gen, next, parts, text, state, clientMessageId}
  }

  /** isOpen reports whether frames can be sent now. */
  get isOpen() {
    return this.ws !== null && this.ws.readyState === 1;
  }

  /** pending returns the clientMessageIds not yet acknowledged, oldest first. */
  get pending() {
    return [...this.outbox.keys()];
  }

  /** connect opens the socket (again), resetting the backoff. */
  connect() {
    this.wanted = true;
    this.attempts = 0;
    this.clearTimers();
    this.open();
  }

  /** close closes the socket for good (until connect is called again). */
  close() {
    this.wanted = false;
    this.clearTimers();
    this.dropSocket();
    this.emit('onState', 'closed', {});
  }

  /**
   * send asks a question and returns its clientMessageId. The question is
   * sent now if the socket is open, else after the next (re)connect.
   */
  send(message, { category1 = '', category2 = '', clientMessageId = newClientMessageId() } = {}) {
    const body = { action: 'sendMessage', message, category1, category2, clientMessageId };
    this.outbox.set(clientMessageId, { body, retries: 0, timer: 0 });
    this.transmit(clientMessageId);
    return clientMessageId;
  }

  /** sendAction sends any other action (e.g. {action: 'handoff'}); false when not open. */
  sendAction(body) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(body));
    return true;
  }

  /** acknowledge removes questions known to be stored from the outbox. */
  acknowledge(clientMessageIds) {
    for (const id of clientMessageIds || []) this.settle(id);
  }

  open() {
    this.dropSocket();
    const mine = ++this.gen;
    let opened = false;
    this.emit('onState', 'connecting', {});
    let sock;
    try {
      sock = new this.WS(this.opts.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = sock;
    sock.onopen = async () => {
      if (mine !== this.gen) return;
      opened = true;
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.attempts = 0;
      this.startPing();
      this.emit('onState', 'open', {});
      let stored = [];
      try {
        stored = (await this.opts.onOpen?.({ reconnect })) || [];
      } catch {
        stored = [];
      }
      if (mine !== this.gen) return;
      this.acknowledge(stored);
      for (const id of this.outbox.keys()) this.transmit(id);
    };
    sock.onmessage = (ev) => {
      if (mine === this.gen) this.onFrame(ev.data, mine);
    };
    sock.onclose = () => {
      if (mine !== this.gen) return;
      this.ws = null;
      this.stopPing();
      this.interruptAnswers();
      if (this.wanted) this.scheduleReconnect(opened);
      else this.emit('onState', 'closed', {});
    };
  }

  dropSocket() {
    this.stopPing();
    if (this.ws) {
      this.gen++;
      try {
        this.ws.close(1000, 'client');
      } catch {
        // already closing
      }
      this.ws = null;
    }
  }

  scheduleReconnect() {
    this.attempts++;
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** (this.attempts - 1));
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.emit('onState', 'waiting', { retryInMs: delay, attempts: this.attempts });
    this.later(delay, () => this.open());
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const q of this.outbox.values()) q.timer = 0;
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => this.sendAction({ action: 'ping' }), PING_INTERVAL_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = 0;
  }

  transmit(clientMessageId) {
    const q = this.outbox.get(clientMessageId);
    if (!q || q.timer || !this.isOpen) return;
    this.ws.send(JSON.stringify(q.body));
  }

  settle(clientMessageId) {
    const q = this.outbox.get(clientMessageId);
    if (!q) return;
    if (q.timer) {
      clearTimeout(q.timer);
      this.timers.delete(q.timer);
    }
    this.outbox.delete(clientMessageId);
  }

  // interruptAnswers marks streaming answers as cut off; the next
  // connection resumes them from seq 1.
  interruptAnswers() {
    for (const [messageId, a] of this.answers) {
      if (a.state === 'streaming') this.emit('onAnswer', { ...view(messageId, a), state: 'interrupted' });
    }
  }

  onFrame(data, gen) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f !== 'object' || Array.isArray(f) || typeof f.type !== 'string') return;
    switch (f.type) {
      case 'delta':
      case 'complete':
      case 'error':
        if (f.type === 'error' && REFUSAL_CODES.has(f.code)) this.onRefusal(f);
        else if (typeof f.messageId === 'string' && f.messageId) this.onAnswerFrame(f, gen);
        return;
      case 'message':
        if (typeof f.messageId === 'string') this.emit('onMessage', f);
        return;
      case 'status':
        this.emit('onStatus', f);
        return;
      default:
        // pong and frame types this client does not know
    }
  }

  onRefusal(f) {
    const id = typeof f.clientMessageId === 'string' ? f.clientMessageId : '';
    if (f.code === 'TOKEN_EXPIRED') {
      this.close();
      this.emit('onTokenExpired');
      return;
    }
    const q = this.outbox.get(id);
    const first = RETRY_AFTER_MS[f.code];
    if (q && first) {
      const delay = Math.min(RETRY_MAX_MS, first * 2 ** q.retries) * (0.75 + Math.random() * 0.5);
      q.retries++;
      q.timer = this.later(delay, () => {
        q.timer = 0;
        this.transmit(id);
      });
      this.emit('onRefused', { clientMessageId: id, code: f.code, message: f.message || '', retryInMs: Math.round(delay) });
      return;
    }
    this.settle(id);
    this.emit('onRefused', { clientMessageId: id, code: f.code, message: f.message || '', retryInMs: 0 });
  }

  onAnswerFrame(f, gen) {
    let a = this.answers.get(f.messageId);
    if (!a || (a.gen !== gen && a.state !== 'complete')) {
      // New answer, or a new connection: its frames start again at seq 1.
      const clientMessageId = typeof f.clientMessageId === 'string' ? f.clientMessageId : (a && a.clientMessageId) || '';
      a = { gen, next: 1, parts: new Map(), text: '', state: 'streaming', clientMessageId };
      this.answers.set(f.messageId, a);
    }
    if (a.clientMessageId) this.settle(a.clientMessageId);
    if (a.state === 'complete' || a.state === 'error') return;
    const seq = typeof f.seq === 'number' ? f.seq : a.next;
    if (seq < a.next || a.parts.has(seq)) return; // a seq already held
    if (f.type === 'complete' && typeof f.answer === 'string') {
      // The whole answer: repairs frames lost or still missing.
      a.text = f.answer;
      a.state = 'complete';
      a.parts.clear();
      this.emit('onAnswer', view(f.messageId, a));
      return;
    }
    a.parts.set(seq, f);
    while (a.parts.has(a.next)) {
      const g = a.parts.get(a.next);
      a.parts.delete(a.next);
      a.next++;
      if (typeof g.delta === 'string') a.text += g.delta;
      if (g.type === 'complete') {
        a.state = 'complete';
      } else if (g.type === 'error') {
        a.state = 'error';
        a.code = g.code;
        a.message = g.message;
      }
    }
    this.emit('onAnswer', view(f.messageId, a));
  }

  emit(name, ...args) {
    const fn = this.opts[name];
    if (typeof fn === 'function') return fn(...args);
    return undefined;
  }
}

function view(messageId, a) {
  return { messageId, clientMessageId: a.clientMessageId, text: a.text, state: a.state, code: a.code || '', message: a.message || '' };
}
