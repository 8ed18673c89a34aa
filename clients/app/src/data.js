// The app's data layer over the sync client (clients/js, `@zhida/sync-client`): the client owns
// the queue, push/pull, photos waiting for upload and the local copy (IndexedDB); here is only
// what the screens need on top — when to sync, the rejections worth showing (kept across
// reloads), and small per-field "waiting" marks.
import { IndexedDBStorage, SyncClient, readQrToken, readShortCode } from "@zhida/sync-client";

export const APP_VERSION = "web-1.0.0";
const SYNC_EVERY_MS = 12_000;
const REJECTIONS_KEY = "zhida.rejections";
const FEEDBACK_KEY = "zhida.feedback";

function readJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

export function isQrToken(text) {
  return readQrToken(text) !== null;
}

/** Per task: which checklist items and SKUs still wait to be confirmed by the server. */
function waitingMarks(pending) {
  const marks = new Map();
  for (const mutation of pending) {
    const id = mutation.args?.task_id;
    if (id == null) continue;
    const mark = marks.get(id) ?? { items: new Set(), sales: {} };
    if (mutation.name === "set_checklist_item") mark.items.add(mutation.args.item_id);
    if (mutation.name === "record_sale") mark.sales[mutation.args.sku] = (mark.sales[mutation.args.sku] ?? 0) + mutation.args.quantity;
    marks.set(id, mark);
  }
  return marks;
}

export class AppData {
  constructor() {
    this.client = new SyncClient({
      baseUrl: "", storage: new IndexedDBStorage("zhida-app"), retry: { attempts: 3, baseMs: 300, capMs: 3000 },
    });
    this.client.on("rejected", ({ mutation, result }) => this.noteRejection(mutation, result));
    this.listeners = new Set();
    this.locale = "zh-CN";
    this.state = {
      ready: false, user: null, tasks: [], notifications: [], pending: [], online: navigator.onLine,
      syncing: false, lastSync: null, rejections: readJson(REJECTIONS_KEY, []), feedback: readJson(FEEDBACK_KEY, {}),
    };
    this.running = null;
    this.again = false;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(patch) {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener(this.state);
  }

  setLocale(locale) {
    this.locale = locale;
  }

  async start() {
    addEventListener("online", () => { this.set({ online: true }); this.syncNow(); });
    addEventListener("offline", () => this.set({ online: false }));
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") this.syncNow(); });
    setInterval(() => { if (document.visibilityState === "visible") this.syncNow(); }, SYNC_EVERY_MS);
    this.client.on("signedout", () => this.reload());
    await this.reload();
    this.set({ ready: true });
    if (this.state.user) this.syncNow();
  }

  /** Re-read the local copy and the queue (IndexedDB) into the screens' state. */
  async reload() {
    const user = await this.client.user();
    if (!user) {
      this.set({ user: null, tasks: [], notifications: [], pending: [] });
      return;
    }
    const [view, pending] = await Promise.all([this.client.view(), this.client.pending()]);
    const marks = waitingMarks(pending);
    const tasks = view.task.map((task) => {
      const mark = marks.get(task.id);
      return mark ? { ...task, pendingItems: mark.items, pendingSales: mark.sales } : task;
    });
    this.set({ user, tasks, notifications: view.notification, pending });
  }

  async signIn(username, password) {
    const previous = await this.client.user();
    const user = await this.client.login(username, password);
    if (previous && previous.username !== user.username) this.saveRejections([]);
    await this.reload();
    this.client.registerDevice({ locale: this.locale, appVersion: APP_VERSION, platform: "web" })
      .catch((error) => console.warn("device registration", error));
    await this.syncNow();
  }

  async signOut(discardPending = false) {
    await this.client.logout({ discardPending });
    this.saveRejections([]);
    location.hash = "#/";
    await this.reload();
  }

  /** Queue a mutation (stored before anything else happens: it survives a reload), then sync. */
  async mutate(name, args) {
    await this.client.enqueue(name, args);
    await this.reload();
    this.syncSoon();
  }

  async addPhoto(taskId, file) {
    await this.client.attachPhoto(taskId, file);
    await this.reload();
    this.syncSoon();
  }

  async photoUrl(sha256) {
    const photo = await this.client.photo(sha256);
    return photo ? URL.createObjectURL(new Blob([photo.bytes], { type: photo.contentType })) : null;
  }

  async scriptFeedback(scriptId, outcome) {
    const feedback = { ...this.state.feedback, [scriptId]: outcome };
    localStorage.setItem(FEEDBACK_KEY, JSON.stringify(feedback));
    this.set({ feedback });
    await this.client.scriptFeedback(scriptId, outcome);
    await this.reload();
    this.syncSoon();
  }

  /** A scanned token or a typed short code → claim_task; resolves with the task it names. */
  async claim(text) {
    const value = text.trim();
    const token = readQrToken(value);
    const taskId = token ? token.taskId : readShortCode(value)?.taskId ?? null;
    if (!taskId) return { invalid: true };
    // The code names its task; sending the id too lets the phone show the claim at once.
    const mutation = await this.client.claimTask(token ? { qrToken: value, taskId } : { shortCode: value, taskId });
    await this.reload();
    const queued = !navigator.onLine;
    await this.syncNow();
    return { queued, taskId: taskId ?? (await this.client.result(mutation.id))?.entity?.id ?? null };
  }

  noteRejection(mutation, result) {
    const taskId = result.entity?.id ?? mutation?.args?.task_id
      ?? (mutation?.args?.qr_token ? readQrToken(mutation.args.qr_token)?.taskId : null) ?? null;
    const entry = { id: result.id, name: mutation?.name, error: result.error, message: result.message,
      details: result.details ?? null, entity: result.entity ?? null, taskId };
    this.saveRejections([entry, ...this.state.rejections.filter((r) => r.id !== result.id)]);
  }

  dismissRejection(id) {
    this.saveRejections(this.state.rejections.filter((r) => r.id !== id));
  }

  saveRejections(list) {
    const kept = list.slice(0, 30);
    localStorage.setItem(REJECTIONS_KEY, JSON.stringify(kept));
    this.set({ rejections: kept });
  }

  syncSoon() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.syncNow(), 100);
  }

  /** Push the queue (the client uploads photos first), then pull until up to date. Never throws. */
  async syncNow() {
    if (!this.state.user || !navigator.onLine) return undefined;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.set({ syncing: true });
    this.running = (async () => {
      do {
        this.again = false;
        const started = performance.now();
        try {
          await this.client.sync();
          // User Timing: bench/app.py reads how long the bootstrap into IndexedDB took.
          performance.measure("zhida:sync", { start: started, end: performance.now() });
          this.set({ lastSync: new Date().toISOString() });
        } catch (error) {
          console.warn("sync failed", error);
        }
        await this.reload();
      } while (this.again && navigator.onLine && this.state.user);
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
      this.set({ syncing: false });
    }
    return undefined;
  }
}
