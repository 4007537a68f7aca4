// Hands bytes to the browser as a download (the only way a file leaves the app).

export function saveBytes(fileName: string, bytes: Uint8Array, type = 'application/octet-stream'): void {
  // Blob wants an ArrayBuffer-backed view; the bytes we get from the worker always are.
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A file-system-safe stem from a user's model name. */
export function safeFileStem(name: string): string {
  return name.trim().replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'model';
}
