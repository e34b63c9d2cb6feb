// The live state stream, read with fetch() so the token travels in the Authorization header.
//
// EventSource cannot send headers, and a token in the URL would end up in
// browser history and proxy logs, so the Server-Sent Events body is read as a
// ReadableStream and parsed here. The stream reconnects by itself with
// exponential backoff (1 s doubling to 30 s, with jitter so that many screens
// do not reconnect in step after a restart), and is dropped and reopened if
// nothing, not even the server's 15 s keep-alive, arrives for 40 s.

const MAX_BACKOFF_S = 30;
const SILENCE_MS = 40_000;

export class StateStream {
  /**
   * @param {object} o
   * @param {string} o.url
   * @param {string} o.token
   * @param {(state: object) => void} o.onState
   * @param {(status: {state: string, retryAt?: number}) => void} o.onStatus
   * @param {(status: number) => void} o.onAuthError  401 or 403: stop, back to sign-in
   */
  constructor({ url, token, onState, onStatus, onAuthError }) {
    Object.assign(this, { url, token, onState, onStatus, onAuthError });
    this.stopped = false;
    this.controller = null;
    this.wakeUp = null;
  }

  start() {
    this.run();
    return this;
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
    this.wakeUp?.();
  }

  /** Skip the rest of the backoff wait. */
  retryNow() {
    this.wakeUp?.();
  }

  async run() {
    let failures = 0;
    while (!this.stopped) {
      this.onStatus({ state: failures ? "retrying" : "connecting" });
      const outcome = await this.connect();
      if (this.stopped || outcome === "auth") return;
      failures = outcome === "had-state" ? 1 : failures + 1;
      const delay = Math.min(MAX_BACKOFF_S, 2 ** (failures - 1)) * (0.8 + Math.random() * 0.4);
      this.onStatus({ state: "disconnected", retryAt: Date.now() + delay * 1000 });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay * 1000);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  /** One connection: "auth" (refused), "had-state" (got states, then lost) or "failed". */
  async connect() {
    const controller = (this.controller = new AbortController());
    let gotState = false;
    let silence = null;
    const quiet = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), SILENCE_MS);
    };
    try {
      quiet();
      const response = await fetch(this.url, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" },
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 401 || response.status === 403) {
        this.onAuthError(response.status);
        return "auth";
      }
      if (!response.ok || !response.body) return "failed";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        quiet();
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = parseFrame(frame);
          if (data !== null) {
            if (!gotState) this.onStatus({ state: "live" });
            gotState = true;
            this.onState(data);
          }
        }
      }
    } catch (error) {
      // Network error, server gone, or our own abort: all mean reconnect.
    } finally {
      clearTimeout(silence);
    }
    return gotState ? "had-state" : "failed";
  }
}

/** The JSON of one SSE frame's data lines, or null for a comment (keep-alive). */
export function parseFrame(frame) {
  const data = frame
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
    .join("\n");
  return data ? JSON.parse(data) : null;
}
