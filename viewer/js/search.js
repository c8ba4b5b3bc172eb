// search.js: the search box in the top bar (DOM only). It asks the server
// (/api/search, names and ids of facilities, projects, buildings, models and BIM
// elements the user may see) and calls back with the hit the user picks.

import { fetchSearch } from "./api.js";
import { t, label } from "./i18n.js";

const DEBOUNCE_MS = 250;

/** The search box: `onPick(hit)` when a result is chosen. */
export class SearchBox {
  /** Bind to the input (#searchInput) and the result list (#searchResults). */
  constructor(input, list, onPick) {
    Object.assign(this, { input, list, onPick, timer: null, asked: 0, results: [] });
    input.addEventListener("input", () => this.schedule());
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && this.results.length) this.pick(this.results[0]);
      if (event.key === "Escape") this.close();
    });
  }

  /** Search a moment after the user stops typing. */
  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(this.input.value.trim()), DEBOUNCE_MS);
  }

  /** Ask the server and list the hits (an older answer never replaces a newer one). */
  async run(query) {
    if (!query) return this.close();
    const asked = ++this.asked;
    const body = await fetchSearch(query);
    if (asked !== this.asked) return null;
    this.results = body.results || [];
    this.render();
    return this.results;
  }

  /** One line per hit: name and what it is; a line saying none when there is none. */
  render() {
    const items = this.results.map((hit, i) => {
      const li = Object.assign(document.createElement("li"), { textContent: `${hit.name} · ${label("kind", hit.kind)}` });
      li.dataset.testid = `search-result-${i}`;
      li.addEventListener("click", () => this.pick(hit));
      return li;
    });
    if (!items.length) items.push(Object.assign(document.createElement("li"), { className: "empty", textContent: t("search.none") }));
    this.list.replaceChildren(...items);
    this.list.hidden = false;
  }

  /** Choose a hit: close the list and call back. */
  pick(hit) {
    this.close();
    this.onPick(hit);
  }

  /** Hide the result list. */
  close() {
    this.list.hidden = true;
    return null;
  }
}
