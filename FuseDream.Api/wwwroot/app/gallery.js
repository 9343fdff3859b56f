import { getJson, blobUrl } from "./api.js";

// Recent generations, newest first, a page at a time (the API's cursors: a stack of them for "Newer").
export class Gallery {
  constructor(list, newer, older, label, pageSize = 8) {
    Object.assign(this, { list, newer, older, label, pageSize });
    this.cursors = [null]; // cursors[i]: the cursor of page i (null: the first)
    this.next = null;
    this.onOpen = null;
    newer.addEventListener("click", () => { this.cursors.pop(); this.load(); });
    older.addEventListener("click", () => { this.cursors.push(this.next); this.load(); });
  }

  async load() {
    const cursor = this.cursors[this.cursors.length - 1];
    const page = await getJson(`/v1/generations?limit=${this.pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    this.next = page.nextCursor;
    this.list.replaceChildren(...page.items.map(g => this.item(g)));
    this.newer.disabled = this.cursors.length <= 1;
    this.older.disabled = !page.nextCursor;
    this.label.textContent = `Page ${this.cursors.length}`;
    this.list.dataset.page = String(this.cursors.length);
  }

  item(generation) {
    const li = document.createElement("li");
    li.dataset.id = generation.id;
    const thumb = document.createElement(generation.result ? "img" : "div");
    if (generation.result) {
      thumb.alt = generation.prompt;
      blobUrl(generation.result.imageUrl).then(url => { thumb.src = url; }, () => {});
    } else {
      thumb.className = "placeholder";
    }
    const prompt = document.createElement("p");
    prompt.textContent = generation.prompt;
    const meta = document.createElement("p");
    meta.className = `status-${generation.status}`;
    meta.textContent = generation.result ? `${generation.status} · AugCLIP ${generation.result.augClipScore.toFixed(4)}` : generation.status;
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = "Open";
    open.setAttribute("aria-label", `Open “${generation.prompt}”`);
    open.addEventListener("click", () => this.onOpen?.(generation));
    li.append(thumb, prompt, meta, open);
    return li;
  }
}
