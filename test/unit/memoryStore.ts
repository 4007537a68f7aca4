// An in-memory ModelStore standing in for IndexedDB in Node tests.
import type { ModelStore, ModelSummary } from '../../src/engine/models.ts';
import type { ModelFiles } from '../../src/model/folder.ts';

export function memoryStore(): ModelStore & { data: Map<string, { summary: ModelSummary; files: ModelFiles }> } {
  const data = new Map<string, { summary: ModelSummary; files: ModelFiles }>();
  return {
    data,
    list: async () => [...data.values()].map((d) => d.summary),
    files: async (id) => {
      const d = data.get(id);
      if (!d) throw new Error(`model '${id}' is not stored`);
      return new Map(d.files);
    },
    put: async (summary, files) => void data.set(summary.id, { summary, files: new Map(files) }),
    delete: async (id) => void data.delete(id),
  };
}
