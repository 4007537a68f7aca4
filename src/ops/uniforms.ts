// Packs a kernel's uniform struct: plain numbers are u32 fields, f32(x) marks a float field.

export interface F32Field {
  f32: number;
}

export function f32(value: number): F32Field {
  return { f32: value };
}

export function packUniforms(fields: ReadonlyArray<number | F32Field>): Uint32Array {
  // Uniform structs round up to 16 bytes.
  const out = new Uint32Array(Math.max(4, Math.ceil(fields.length / 4) * 4));
  const asFloat = new Float32Array(out.buffer);
  fields.forEach((f, i) => {
    if (typeof f === 'number') {
      if (!Number.isInteger(f) || f < 0 || f > 0xffffffff) throw new Error(`uniform field ${i} is not a u32: ${f}`);
      out[i] = f;
    } else {
      asFloat[i] = f.f32;
    }
  });
  return out;
}
