/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * A tiny DOM builder: the renderer builds its views from plain elements, no framework, no
 * innerHTML with data (text always goes through textContent, so nothing in an event can inject
 * markup).
 */

/** Attributes and handlers for {@link h}: `class`, `data-*`, `on<event>`, anything else as an attribute. */
export type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

/** A child: an element, text, or nothing. */
export type Child = Node | string | number | null | undefined | false;

/** Creates an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Array<Child | Child[]>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else if (key === 'value' && 'value' in el) (el as HTMLInputElement).value = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Creates an SVG element with attributes. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Array<Node | null>): SVGElementTagNameMap[K] {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.appendChild(child);
  return el;
}

/** Appends children (nested arrays flattened, empty ones skipped). */
export function append(el: Node, children: Array<Child | Child[]>): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Array<Child | Child[]>): void {
  el.replaceChildren();
  append(el, children);
}

/** The element with this id; throws if the page lacks it (a build mistake, not a user's). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page has no #${id}`);
  return el as T;
}

/** A two-column table of label and value rows. */
export function keyValues(rows: Array<[string, Child | Child[]]>, className = 'kv'): HTMLTableElement {
  return h('table', { class: className }, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, ...(Array.isArray(v) ? v : [v]))))));
}

/** A table with a header row; `empty` shows when there are no rows. */
export function table(headers: string[], rows: Array<Array<Child | Child[]>>, empty = 'none'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    { class: 'grid' },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, ...(Array.isArray(c) ? c : [c])))))),
  );
}

/** A small coloured label. */
export function pill(text: string, tone: string): HTMLSpanElement {
  return h('span', { class: `pill ${tone}` }, text);
}

/** A titled section of the inspector. */
export function section(title: string, ...children: Array<Child | Child[]>): HTMLElement {
  return h('section', { class: 'panel-section' }, h('h3', {}, title), ...children);
}
