// Teachers that are not our models (the runtime's GGUF files, OpenAI-compatible servers), for the
// Models, Compare and Arbitrage panels. The servers the user connected are remembered in this
// browser (localStorage, the API key included: it never leaves this machine except to that server)
// and connected again to whichever engine answers after a reload.
import type { EndpointConfig, PromptMode, TeacherSummary } from '../../engine/api.ts';
import { engine } from '../engineClient.svelte.ts';
import { onnxTeachers } from './onnxTeachers.svelte.ts';

const ENDPOINTS_KEY = 'teachers.endpoints';
const MODES_KEY = 'teachers.modes';

function load<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback;
  }
}

class TeacherList {
  items = $state<TeacherSummary[]>([]);
  /** Backends that could not list (a server down), in words. */
  errors = $state<string[]>([]);
  endpoints = $state<EndpointConfig[]>(load(ENDPOINTS_KEY, []));
  /** The prompt mode chosen per teacher (default: the teacher's own). */
  modes = $state<Record<string, PromptMode>>(load(MODES_KEY, {}));
  /** Per remembered server: why it is not connected now. */
  endpointErrors = $state<Record<string, string>>({});
  private connectedTo: unknown = null;

  mode(t: TeacherSummary): PromptMode {
    const m = this.modes[t.id];
    return m === 'chat' && t.chat ? 'chat' : m === 'raw' ? 'raw' : t.defaultMode;
  }

  setMode(id: string, mode: PromptMode): void {
    this.modes = { ...this.modes, [id]: mode };
    localStorage.setItem(MODES_KEY, JSON.stringify(this.modes));
  }

  /** Connects the remembered servers (once per engine connection), then lists every teacher. */
  async refresh(): Promise<void> {
    const api = engine.ready();
    if (this.connectedTo !== api) {
      this.connectedTo = api;
      const errs: Record<string, string> = {};
      for (const ep of this.endpoints) await api.connectEndpoint($state.snapshot(ep)).catch((e: Error) => (errs[ep.name] = e.message));
      this.endpointErrors = errs;
    }
    // The ONNX folders kept in this browser, loaded into this engine.
    await onnxTeachers.restore();
    try {
      const r = await api.listTeachers();
      this.items = r.teachers;
      this.errors = r.errors.map((e) => `${e.backend} ${e.message}`);
    } catch (e) {
      this.errors = [`Could not list the teachers: ${(e as Error).message}`];
    }
  }

  async connect(ep: EndpointConfig): Promise<TeacherSummary[]> {
    const listed = await engine.ready().connectEndpoint(ep);
    this.endpoints = [...this.endpoints.filter((x) => x.name !== ep.name), ep];
    localStorage.setItem(ENDPOINTS_KEY, JSON.stringify(this.endpoints));
    const { [ep.name]: _, ...rest } = this.endpointErrors;
    this.endpointErrors = rest;
    await this.refresh();
    return listed;
  }

  async disconnect(name: string): Promise<void> {
    await engine.ready().disconnectEndpoint(name);
    this.endpoints = this.endpoints.filter((x) => x.name !== name);
    localStorage.setItem(ENDPOINTS_KEY, JSON.stringify(this.endpoints));
    await this.refresh();
  }
}

export const teacherList = new TeacherList();
