/** "Tiny FRA · offline" → "tiny-fra-offline": a name as an id or folder name (the desktop runtime
 *  names a new model's folder so, at most 48 characters). */
export function slugify(name: string, max = 32): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, max) || 'model';
}
