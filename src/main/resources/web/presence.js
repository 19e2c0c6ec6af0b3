// Who is in a room, by name, counted per connection (docs/PROTOCOL.md: `members` lists a user
// connected twice twice; `presence` names each connection that joined or left). Names, not
// connections, are what a person cares about: a "joined" line is worth printing only when a name
// goes from 0 connections to 1, a "left" line only from 1 to 0. So a second tab, a reconnect or a
// switch of transport does not fill the room with lines (CONTRACT: per-name counting).
//
// Pure: app.js feeds it `members` pages and `presence` deltas and prints what change() returns.

export class Presence {
  constructor() {
    this.counts = new Map(); // name -> connections
    this.loading = null; // names gathered from the pages of a `members` listing in progress
  }

  // A listing begins (after a join or a re-join): its pages replace the counts once complete.
  beginListing() {
    this.loading = [];
  }

  // One `members` page; returns true when it was the last (no `next`).
  page(names, last) {
    if (this.loading === null) this.loading = [];
    this.loading.push(...names);
    if (!last) return false;
    this.reset(this.loading);
    this.loading = null;
    return true;
  }

  // The whole membership at once: replaces the counts and prints nothing (a reconnect's re-listing
  // must not announce everyone again).
  reset(names) {
    this.counts = new Map();
    for (const name of names) this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  // A `presence` delta: the names that appeared (0 -> 1) and those gone (1 -> 0), in the order given.
  change(joined = [], left = []) {
    const appeared = [];
    const gone = [];
    for (const name of joined) {
      const n = (this.counts.get(name) ?? 0) + 1;
      this.counts.set(name, n);
      if (n === 1) appeared.push(name);
    }
    for (const name of left) {
      const n = this.counts.get(name) ?? 0;
      if (n <= 1) {
        // A left for a name we did not count (it joined before our listing saw it) is still a leave.
        this.counts.delete(name);
        gone.push(name);
      } else {
        this.counts.set(name, n - 1);
      }
    }
    // A name that both came and went within one delta leaves no line.
    const both = appeared.filter((name) => gone.includes(name) && !this.counts.has(name));
    return {
      appeared: appeared.filter((name) => !both.includes(name)),
      gone: gone.filter((name) => !both.includes(name)),
    };
  }

  // [{ name, connections }], by name.
  list() {
    return [...this.counts].map(([name, connections]) => ({ name, connections }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
