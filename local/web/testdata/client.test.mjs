// Tests of static/ragchat-client.js under Node's test runner, with a fake
// WebSocket and mocked timers. Run by TestClientModule (client_test.go).
import { test, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ChatSocket, PING_INTERVAL_MS } from '../static/ragchat-client.js';

// FakeSocket is a WebSocket the test opens, feeds and closes.
class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.all.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen(); }
  frame(f) { this.onmessage({ data: typeof f === 'string' ? f : JSON.stringify(f) }); }
  drop() { this.readyState = 3; this.onclose({}); }
  static last() { return FakeSocket.all[FakeSocket.all.length - 1]; }
}

const tick = () => new Promise((r) => setImmediate(r));

// Every test runs on mocked timers, so no backoff or ping timer outlives it.
beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval'] }));
afterEach(() => mock.timers.reset());

function client(extra = {}) {
  FakeSocket.all = [];
  const events = { answers: [], messages: [], refused: [], states: [] };
  const c = new ChatSocket({
    url: () => 'ws://x/prod?token=t&roomId=room-1',
    WebSocket: FakeSocket,
    onAnswer: (a) => events.answers.push(a),
    onMessage: (m) => events.messages.push(m),
    onRefused: (r) => events.refused.push(r),
    onState: (s) => events.states.push(s),
    ...extra,
  });
  return { c, events };
}

// connected returns a client whose first socket is open, and that socket.
async function connected(extra = {}) {
  const { c, events } = client(extra);
  c.connect();
  const s = FakeSocket.last();
  s.open();
  await tick();
  return { c, events, s };
}

const delta = (seq, text, extra = {}) => ({ type: 'delta', sessionId: 'room-1', messageId: 'm-1', seq, delta: text, isComplete: false, ...extra });

test('assembles answers in seq order, drops a seq already held, repairs from answer', async () => {
  const { events, s } = await connected();
  s.frame(delta(2, 'b'));
  s.frame(delta(1, 'a'));
  s.frame(delta(1, 'a'));
  s.frame({ type: 'complete', sessionId: 'room-1', messageId: 'm-1', seq: 4, delta: 'd', isComplete: true, answer: 'abcd' });
  const last = events.answers.at(-1);
  assert.equal(last.text, 'abcd');
  assert.equal(last.state, 'complete');
  assert.deepEqual(events.answers.map((a) => a.text), ['', 'ab', 'abcd']);
});

test('ignores frames without type, unknown types and non-objects', async () => {
  const { events, s } = await connected();
  s.frame({ message: 'Endpoint request timed out', connectionId: 'x', requestId: 'y' });
  s.frame({ type: 'shiny-new-thing', messageId: 'm-9' });
  s.frame('not json');
  s.frame('[1,2]');
  s.frame({ type: 'pong' });
  s.frame(delta(1, '계속'));
  assert.equal(events.answers.length, 1);
  assert.equal(events.answers[0].text, '계속');
});

test('a new connection resumes an answer from seq 1 with the text so far', async () => {
  const { events, s } = await connected();
  s.frame(delta(1, '안녕'));
  FakeSocket.last().drop();
  assert.equal(events.answers.at(-1).state, 'interrupted');
  mock.timers.tick(1000);
  const s2 = FakeSocket.last();
  assert.equal(FakeSocket.all.length, 2, 'reconnected after the backoff');
  s2.open();
  await tick();
  s2.frame(delta(1, '안녕하세요'));
  s2.frame({ type: 'complete', sessionId: 'room-1', messageId: 'm-1', seq: 2, delta: '!', isComplete: true });
  assert.equal(events.answers.at(-1).text, '안녕하세요!');
  assert.equal(events.answers.at(-1).state, 'complete');
});

test('questions carry a clientMessageId and unacknowledged ones are resent after a reconnect', async () => {
  let stored = [];
  const { c, s: s1 } = await connected({ onOpen: async () => stored });
  const a = c.send('첫 질문');
  const b = c.send('둘째 질문');
  const z = c.send('셋째 질문');
  assert.match(a, /^c-[a-z0-9]{20}$/);
  assert.deepEqual(s1.sent.map((m) => m.clientMessageId), [a, b, z]);
  assert.equal(s1.sent[0].action, 'sendMessage');
  s1.frame(delta(1, 'x', { clientMessageId: a })); // a's answer started: acknowledged
  stored = [b]; // b is in the history read after the reconnect
  s1.drop();
  mock.timers.tick(1000);
  const s2 = FakeSocket.last();
  s2.open();
  await tick();
  assert.deepEqual(s2.sent.map((m) => m.clientMessageId), [z], 'only the unacknowledged question is resent');
  assert.deepEqual(c.pending, [z]);
});

test('ANSWER_IN_PROGRESS and RATE_LIMITED back off and resend; INVALID_MESSAGE gives up', async () => {
  const { c, events, s } = await connected();
  const id = c.send('질문');
  const refuse = (code) => s.frame({ type: 'error', sessionId: 'room-1', messageId: 'm-r', seq: 1, code, message: 'no', isComplete: true, clientMessageId: id });
  refuse('ANSWER_IN_PROGRESS');
  assert.ok(events.refused[0].retryInMs >= 1500 && events.refused[0].retryInMs <= 2500);
  mock.timers.tick(2600);
  assert.equal(s.sent.length, 2, 'resent after the backoff');
  refuse('RATE_LIMITED');
  mock.timers.tick(9000);
  assert.equal(s.sent.length, 2, 'rate limited: not resent before the backoff');
  mock.timers.tick(20000);
  assert.equal(s.sent.length, 3);
  refuse('INVALID_MESSAGE');
  assert.equal(events.refused.at(-1).retryInMs, 0);
  assert.deepEqual(c.pending, []);
});

test('pings every 5 minutes while open, and message frames reach onMessage', async () => {
  const { c, events, s } = await connected();
  mock.timers.tick(PING_INTERVAL_MS * 2);
  assert.deepEqual(s.sent, [{ action: 'ping' }, { action: 'ping' }]);
  s.frame({ type: 'message', sessionId: 'room-1', messageId: 'm-q', role: 'user', text: '질문', createdAt: 1 });
  assert.equal(events.messages[0].text, '질문');
  c.close();
  mock.timers.tick(PING_INTERVAL_MS);
  assert.equal(s.sent.length, 2, 'no ping after close');
});
