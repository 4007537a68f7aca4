// Turns a growing list of token ids into text deltas for streaming. Byte-level tokens can end in
// the middle of a UTF-8 character; decoding shows that as U+FFFD, so a trailing replacement
// character is held back until the next token completes it.

export class TextStream {
  private ids: number[] = [];
  private emitted = '';

  constructor(private readonly decode: (ids: number[]) => string) {}

  /** Adds a token; returns the newly completed text (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    let text = this.decode(this.ids);
    while (text.endsWith('\uFFFD') && text.length > this.emitted.length) text = text.slice(0, -1);
    // Decoding a longer id list only changes the held-back tail, so `emitted` is a prefix of `text`.
    const delta = text.slice(this.emitted.length);
    this.emitted = text;
    return delta;
  }

  /** Everything, including an incomplete trailing character. */
  finish(): string {
    const text = this.decode(this.ids);
    const delta = text.slice(this.emitted.length);
    this.emitted = text;
    return delta;
  }

  get text(): string {
    return this.emitted;
  }
}
