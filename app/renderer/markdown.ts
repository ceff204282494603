/// <reference lib="dom" />
/**
 * Markdown for lab texts (introductions, tasks, hints), built as DOM nodes from markdown-it's
 * tokens: no HTML string ever reaches the page. Raw HTML in the source stays text (`html: false`),
 * only a fixed set of elements is created, and links keep an address only when it is http(s) or
 * mailto (they open outside the app).
 */
import markdownit, { type Token } from 'markdown-it';

const md = markdownit({ html: false, linkify: false, typographer: false });

/** The elements a lab text may produce; anything else becomes a span. */
const ALLOWED = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'blockquote', 'strong', 'em', 's', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'hr', 'br', 'pre', 'code']);

/** Headings inside a panel start at h4, so they sit below the panel's own titles. */
function tagOf(token: Token): string {
  const tag = /^h[1-6]$/.test(token.tag) ? `h${Math.min(6, Number(token.tag[1]) + 3)}` : token.tag;
  return ALLOWED.has(tag) ? tag : 'span';
}

function safeHref(href: string | number | null): string | null {
  const text = href === null ? '' : String(href).trim();
  return /^(https?:|mailto:)/i.test(text) ? text : null;
}

/** Appends the nodes of a token list (block or inline) to `root`. */
function build(tokens: readonly Token[], root: Node): void {
  const stack: Node[] = [root];
  const top = (): Node => stack[stack.length - 1]!;
  for (const token of tokens) {
    if (token.nesting === 1) {
      const el = document.createElement(tagOf(token));
      if (token.tag === 'a') {
        const href = safeHref(token.attrGet('href'));
        if (href !== null) {
          el.setAttribute('href', href);
          el.setAttribute('target', '_blank');
          el.setAttribute('rel', 'noopener noreferrer');
        }
      }
      if (token.tag === 'ol' && token.attrGet('start') !== null) el.setAttribute('start', String(Number(token.attrGet('start'))));
      top().appendChild(el);
      stack.push(el);
    } else if (token.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else {
      switch (token.type) {
        case 'inline':
          build(token.children ?? [], top());
          break;
        case 'text':
        case 'html_inline':
        case 'html_block':
          top().appendChild(document.createTextNode(token.content));
          break;
        case 'code_inline': {
          const code = document.createElement('code');
          code.textContent = token.content;
          top().appendChild(code);
          break;
        }
        case 'fence':
        case 'code_block': {
          const pre = document.createElement('pre');
          const code = document.createElement('code');
          code.textContent = token.content;
          pre.appendChild(code);
          top().appendChild(pre);
          break;
        }
        case 'softbreak':
          top().appendChild(document.createTextNode('\n'));
          break;
        case 'hardbreak':
          top().appendChild(document.createElement('br'));
          break;
        case 'hr':
          top().appendChild(document.createElement('hr'));
          break;
        case 'image':
          // Images would load from elsewhere; the description stands in for them.
          top().appendChild(document.createTextNode(token.content || String(token.attrGet('alt') ?? '')));
          break;
        default:
          if (token.content) top().appendChild(document.createTextNode(token.content));
      }
    }
  }
}

/** Markdown text as a fragment of DOM nodes. */
export function renderMarkdown(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  build(md.parse(text, {}), fragment);
  return fragment;
}

/** One line of Markdown (a task's text, a hint) without the paragraph around it. */
export function renderMarkdownInline(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  build(md.parseInline(text, {}), fragment);
  return fragment;
}
