/**
 * Event-time timers: a min-heap of (due, entity) per shard. Entries are never removed in place; an entry is
 * stale when the entity's current due time or timer shard no longer matches it, and is skipped when popped.
 */
export class TimerHeap<T> {
  private readonly dues: number[] = [];
  private readonly ids: T[] = [];

  public get size(): number {
    return this.dues.length;
  }

  public push(due: number, id: T): void {
    let i = this.dues.length;
    this.dues.push(due);
    this.ids.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.dues[p]! <= due) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes and returns every entry due at or before `w`. */
  public popDue(w: number): T[] {
    const out: T[] = [];
    while (this.dues.length > 0 && this.dues[0]! <= w) {
      out.push(this.ids[0]!);
      this.removeTop();
    }
    return out;
  }

  private removeTop(): void {
    const lastDue = this.dues.pop()!;
    const lastId = this.ids.pop()!;
    if (this.dues.length === 0) return;
    this.dues[0] = lastDue;
    this.ids[0] = lastId;
    let i = 0;
    const n = this.dues.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.dues[l]! < this.dues[m]!) m = l;
      if (r < n && this.dues[r]! < this.dues[m]!) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const d = this.dues[a]!;
    this.dues[a] = this.dues[b]!;
    this.dues[b] = d;
    const id = this.ids[a]!;
    this.ids[a] = this.ids[b]!;
    this.ids[b] = id;
  }
}
