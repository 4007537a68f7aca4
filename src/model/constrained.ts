// Constrained decoding for our engine's models: the output must be one of a finite set of texts
// (the JSON values a small schema allows, e.g. the LLM judge's {"verdict": "[[A>B]]"}). At each
// step only tokens that keep the text a prefix of some choice may be sampled, and <eos> only once
// the text is a whole choice — so even a tiny model returns a valid reply. llama.cpp does the same
// with a grammar for any JSON schema; ours covers the finite schemas, which is what judges need.

/**
 * The compact JSON texts `schema` allows, when it allows finitely many (≤ `limit`): `enum`,
 * `const`, booleans, null, and objects whose listed properties are all required (emitted in the
 * schema's order). Null when the schema is outside that subset.
 */
export function finiteJsonChoices(schema: unknown, limit = 256): string[] | null {
  const s = schema as Record<string, unknown> | null;
  if (!s || typeof s !== 'object' || Array.isArray(s)) return null;
  if ('const' in s) return [JSON.stringify(s.const)];
  if (Array.isArray(s.enum)) return s.enum.length > 0 && s.enum.length <= limit ? s.enum.map((v) => JSON.stringify(v)) : null;
  if (s.type === 'boolean') return ['true', 'false'];
  if (s.type === 'null') return ['null'];
  if (s.type === 'object' && s.properties && typeof s.properties === 'object') {
    const props = Object.entries(s.properties as Record<string, unknown>);
    const required = new Set(Array.isArray(s.required) ? (s.required as unknown[]) : []);
    if (props.length === 0 || props.some(([k]) => !required.has(k))) return null;
    let out = [''];
    for (const [k, sub] of props) {
      const values = finiteJsonChoices(sub, limit);
      if (!values || out.length * values.length > limit) return null;
      out = out.flatMap((prefix) => values.map((v) => `${prefix}${prefix ? ',' : ''}${JSON.stringify(k)}:${v}`));
    }
    return out.map((body) => `{${body}}`);
  }
  return null;
}

export class ChoiceConstraint {
  private text = '';

  /** `tokenTexts[id]`: the text a token adds ('' for special tokens, which are never allowed). */
  constructor(
    private readonly tokenTexts: readonly string[],
    private readonly eosId: number,
    readonly choices: readonly string[],
  ) {
    if (choices.length === 0) throw new Error('constrained decoding: no choices');
  }

  /** The text so far is a whole choice that no other choice extends: nothing is left to generate. */
  complete(): boolean {
    return this.choices.includes(this.text) && !this.choices.some((c) => c.length > this.text.length && c.startsWith(this.text));
  }

  /** Sets every token that cannot continue toward a choice to −∞ (in place). */
  mask(row: { length: number; [index: number]: number }): void {
    const open = this.choices.filter((c) => c.startsWith(this.text)).map((c) => c.slice(this.text.length));
    let any = false;
    for (let id = 0; id < row.length; id++) {
      const t = this.tokenTexts[id];
      const ok = id === this.eosId ? open.includes('') : t !== undefined && t.length > 0 && open.some((rest) => rest.startsWith(t));
      if (!ok) row[id] = -Infinity;
      else if (row[id] !== -Infinity) any = true;
    }
    if (!any) throw new Error('constrained decoding: no token can continue the reply toward an allowed value');
  }

  accept(id: number): void {
    if (id !== this.eosId) this.text += this.tokenTexts[id] ?? '';
  }
}
