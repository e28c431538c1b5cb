// The admin API as the dashboard uses it: every call carries the admin token (when there is one),
// a 401 asks for it, a 403 says why; and the live event stream, read with fetch() and a streaming
// reader because EventSource cannot send an Authorization header (docs/operations.md, "Dashboard").

const TOKEN_KEY = 'switchboard.adminToken';

/** A refusal the user cannot fix by typing a token again here (403), with the server's words. */
export class Forbidden extends Error {}

/** A non-2xx answer other than 401/403, with the server's `error` text. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class AdminClient {
  /**
   * `askToken(message)`: shows the token form and resolves with what the user typed (`message`
   * is the server's reason, e.g. "wrong admin token"). One form at a time however many calls wait.
   */
  constructor({ askToken }) {
    this.askToken = askToken;
    this.pending = undefined;
  }

  get token() {
    return window.sessionStorage.getItem(TOKEN_KEY) ?? '';
  }

  headers(extra = {}) {
    const t = this.token;
    return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
  }

  /** The server said 401: forget the token we had and ask for one (once, for all waiting callers). */
  login(message) {
    window.sessionStorage.removeItem(TOKEN_KEY);
    this.pending ??= Promise.resolve(this.askToken(message)).then((token) => {
      window.sessionStorage.setItem(TOKEN_KEY, token);
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Asks for a token although none was refused yet (the banner's button, after a 403). */
  relogin() {
    return this.login('');
  }

  /** A JSON call; resolves with the body of a 2xx, throws Forbidden or ApiError otherwise. */
  async request(method, path) {
    for (;;) {
      const res = await fetch(path, { method, headers: this.headers({ accept: 'application/json' }), cache: 'no-store' });
      const body = await res.json().catch(() => ({}));
      if (res.status === 401) {
        await this.login(body.error ?? 'admin credentials required');
        continue;
      }
      if (res.status === 403) throw new Forbidden(body.error ?? 'forbidden');
      if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
      return body;
    }
  }
}

/** Reconnect delays: doubling from half a second to 15 s, each ±20 % so a fleet of tabs spreads out. */
export function backoff(attempt) {
  const base = Math.min(15_000, 500 * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Server-Sent Events from text chunks (the WHATWG parsing rules: CR, LF or CRLF line ends,
 * `event:`/`data:` fields with one optional space, comments from `:`, a blank line dispatches).
 */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.event = '';
    this.data = [];
  }

  push(chunk) {
    this.buf += chunk;
    let m;
    const re = /\r\n|\r|\n/g;
    let start = 0;
    while ((m = re.exec(this.buf))) {
      // A lone CR at the very end may be the first half of a CRLF split across chunks.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      this.line(this.buf.slice(start, m.index));
      start = re.lastIndex;
    }
    this.buf = this.buf.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onEvent(this.event || 'message', this.data.join('\n'));
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}

/**
 * Keeps GET /admin/v1/events open for as long as the page lives: reconnects with backoff when it
 * ends (a draining server ends it on purpose), asks for the token on 401, reports a 403 and keeps
 * trying slowly (the operator may fix the server's config meanwhile).
 *
 * `onEvent(name, data)`: each event with its parsed JSON. `onState(state, detail)`: connecting,
 * live, reconnecting ({ inMs }), auth, forbidden ({ message, inMs }), error ({ message, inMs }).
 */
export function runEventStream(client, { onEvent, onState }) {
  let attempt = 0;
  let stopped = false;
  let abort;
  /** Set by restart(): the abort it causes is not a failure, and the wait before the next try is cut short. */
  let restarting = false;
  let wake;
  const wait = (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  /** Whether the current stream delivered its first snapshot (then its end is a reconnect, not a failure). */
  let live = false;

  async function once() {
    abort = new AbortController();
    live = false;
    const res = await fetch('/admin/v1/events', { headers: client.headers({ accept: 'text/event-stream' }), cache: 'no-store', signal: abort.signal });
    if (res.status === 401) {
      const body = await res.json().catch(() => ({}));
      onState('auth');
      await client.login(body.error ?? 'admin credentials required');
      attempt = 0;
      return 'retry-now';
    }
    if (res.status === 403) {
      const body = await res.json().catch(() => ({}));
      throw new Forbidden(body.error ?? 'forbidden');
    }
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => ({}));
      throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
    }
    const parser = new SseParser((name, text) => {
      let data;
      try {
        data = JSON.parse(text);
      } catch {
        return; // not ours to show: the stream's events are JSON
      }
      if (name === 'snapshot' && !live) {
        live = true;
        attempt = 0;
        onState('live');
      }
      onEvent(name, data);
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    return 'ended';
  }

  void (async () => {
    while (!stopped) {
      onState(attempt === 0 ? 'connecting' : 'reconnecting', {});
      let delay;
      try {
        if ((await once()) === 'retry-now') continue;
        delay = backoff(attempt++);
        onState('reconnecting', { inMs: delay });
      } catch (err) {
        if (stopped) break;
        if (restarting) {
          restarting = false;
          continue;
        }
        delay = backoff(attempt++);
        // A 403 will not change by itself soon: retry slowly, in case the server's config does.
        if (live) onState('reconnecting', { inMs: delay });
        else if (err instanceof Forbidden) onState('forbidden', { message: err.message, inMs: (delay = Math.max(delay, 5_000)) });
        else onState('error', { message: err instanceof ApiError ? err.message : 'the server is unreachable', inMs: delay });
      }
      if (restarting) {
        restarting = false;
        continue;
      }
      await wait(delay);
      restarting = false;
    }
  })();

  return {
    stop() {
      stopped = true;
      abort?.abort();
    },
    /** Drops the current stream at once and opens a new one (a new token was entered). */
    restart() {
      attempt = 0;
      restarting = true;
      abort?.abort();
      wake?.();
    },
  };
}
