// A small element builder. Text always goes in as text nodes (never as HTML),
// so ids sent by adapters cannot inject markup into the page.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/**
 * Replace a container's content, keeping keyboard focus on the element with
 * the same `data-key` (re-rendering must not throw a keyboard user's focus away);
 * `data-focus-next` names where focus goes if that element is gone.
 */
export function replace(container, ...children) {
  const focused = document.activeElement;
  const inside = focused && container.contains(focused);
  const keys = inside ? [focused.dataset.key, focused.dataset.focusNext].filter(Boolean) : [];
  container.replaceChildren(...children.flat(Infinity).filter(Boolean));
  // The same element again, or (if it is gone, e.g. an acknowledged alert's
  // button) the element it names as next.
  for (const key of keys) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) {
      again.focus();
      break;
    }
  }
}
