/**
 * A minimal Chrome DevTools protocol client over one WebSocket: commands with ids, and
 * the worker sessions Node's inspector tunnels through its NodeWorker domain.
 *
 * The socket: Node 22+'s global WebSocket, else the `ws` package (Node 20 has none); both
 * speak the WHATWG interface used here.
 */
type WebSocketLike = {
  addEventListener(type: string, listener: (event: any) => void): void;
  send(data: string): void;
  close(): void;
};
type WebSocketClass = new (url: string) => WebSocketLike;

async function webSocketClass(): Promise<WebSocketClass> {
  const native = (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
  if (native !== undefined) return native;
  return (await import('ws')).default as unknown as WebSocketClass;
}

interface Message {
  id?: number;
  method?: string;
  params?: any;
  result?: any;
  error?: { message: string };
}

export class CdpClient {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(value: any): void; reject(error: Error): void }>();
  private readonly listeners = new Set<(message: Message) => void>();
  private closed: Error | null = null;

  private constructor(private readonly socket: WebSocketLike) {
    socket.addEventListener('message', (event) => this.dispatch(JSON.parse(String(event.data)) as Message));
    socket.addEventListener('close', () => this.fail(new Error('the inspector closed the connection')));
  }

  static async connect(url: string, timeoutMs: number): Promise<CdpClient> {
    const WS = await webSocketClass();
    const socket = new WS(url);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the inspector at ${url} within ${timeoutMs} ms`)), timeoutMs);
      socket.addEventListener('open', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.addEventListener('error', (event) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to the inspector at ${url}: ${event?.message ?? event?.error?.message ?? 'connection failed'}`));
      });
    });
    return new CdpClient(socket);
  }

  /** Send a command; resolves to its result, rejects with its error. */
  send(method: string, params: object = {}): Promise<any> {
    if (this.closed !== null) return Promise.reject(this.closed);
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Called with every event (messages without an id) until the returned function is called. */
  onEvent(listener: (message: Message) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.socket.close();
  }

  private dispatch(message: Message): void {
    if (message.id === undefined) {
      for (const listener of this.listeners) listener(message);
      return;
    }
    const waiter = this.pending.get(message.id);
    if (waiter === undefined) return;
    this.pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  }

  private fail(error: Error): void {
    this.closed = error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}

/** A session with one worker thread, through the main thread's NodeWorker domain. */
export class WorkerSession {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(value: any): void; reject(error: Error): void }>();

  constructor(
    private readonly client: CdpClient,
    readonly sessionId: string,
  ) {
    client.onEvent((event) => {
      if (event.method !== 'NodeWorker.receivedMessageFromWorker' || event.params?.sessionId !== sessionId) return;
      const message = JSON.parse(event.params.message as string) as Message;
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      if (waiter === undefined) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    });
  }

  send(method: string, params: object = {}): Promise<any> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.client
        .send('NodeWorker.sendMessageToWorker', { sessionId: this.sessionId, message: JSON.stringify({ id, method, params }) })
        .catch(reject);
    });
  }
}
