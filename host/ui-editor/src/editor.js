// Floh's script editor island: turns every `<textarea data-floh-editor>` on
// the page into a CodeMirror 6 editor. The textarea stays the form field (it
// is hidden and kept in step), so forms post exactly what they would without
// JavaScript, and the server stays the one place that decides anything.
//
// Attributes read from the textarea:
//   data-floh-editor          marks it (value unused)
//   data-readonly             a read-only editor (generated scripts)
//   data-check-url            POST {scriptSource, commands} here for inline
//                             diagnostics (the host's compiler); omitted: none
//   data-commands             JSON array of the declared command names, or
//   data-commands-selector    a CSS selector of inputs holding them
// In the same form: `[data-floh-unsaved]` is shown while the text differs
// from what the page was loaded with, and `[data-floh-editor-status]`
// (aria-live) receives the check's summary. A form holding an editor is only
// submitted after a check without errors; a page with unsaved editors warns
// before it is left. The check sends the session's CSRF token as
// `x-csrf-token` (see csrfToken).
//
// CodeMirror writes its styles with style-mod, which uses a <style> element
// in a document (blocked by a strict `style-src`) but constructable
// stylesheets (`adoptedStyleSheets`, which CSP allows) in a shadow root; so
// each editor lives in a shadow root of its own.

import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { javascript, javascriptLanguage } from "@codemirror/lang-javascript";
import { HighlightStyle, bracketMatching, foldGutter, foldKeymap, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { forceLinting, lintGutter, lintKeymap, linter } from "@codemirror/lint";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";

import { tags } from "@lezer/highlight";

import completions from "floh-completions";

/** CodeMirror's default colours, darkened where they fall short of WCAG AA
 * contrast (4.5:1) on the editor's white and active-line backgrounds. */
const highlightStyle = HighlightStyle.define([
  { tag: tags.meta, color: "#404740" },
  { tag: tags.link, textDecoration: "underline" },
  { tag: tags.heading, textDecoration: "underline", fontWeight: "bold" },
  { tag: tags.emphasis, fontStyle: "italic" },
  { tag: tags.strong, fontWeight: "bold" },
  { tag: tags.strikethrough, textDecoration: "line-through" },
  { tag: tags.keyword, color: "#708" },
  { tag: [tags.atom, tags.bool, tags.url, tags.contentSeparator, tags.labelName], color: "#219" },
  { tag: [tags.literal, tags.inserted], color: "#145a32" },
  { tag: [tags.string, tags.deleted], color: "#a11" },
  { tag: [tags.regexp, tags.escape, tags.special(tags.string)], color: "#a62f00" },
  { tag: tags.definition(tags.variableName), color: "#00c" },
  { tag: tags.local(tags.variableName), color: "#30a" },
  { tag: [tags.typeName, tags.namespace], color: "#06603a" },
  { tag: tags.className, color: "#135e6b" },
  { tag: [tags.special(tags.variableName), tags.macroName], color: "#256" },
  { tag: tags.definition(tags.propertyName), color: "#00c" },
  { tag: tags.comment, color: "#7a3b00" },
  { tag: tags.invalid, color: "#b00" },
]);

const editors = [];
let leaving = false;

/** Completions for `floh`, `floh.http`, ... from the table generated out of
 * floh.d.ts at build time. */
function flohCompletions(context) {
  const match = context.matchBefore(/\bfloh(?:\.[A-Za-z_$][\w$]*)*\.?[\w$]*$/);
  if (!match) return null;
  const text = match.text;
  const dot = text.lastIndexOf(".");
  if (dot < 0) {
    // `flo|`: offer the global itself.
    if (!context.explicit && text.length < 2) return null;
    return { from: match.from, options: [completions.root], validFor: /^[\w$]*$/ };
  }
  const options = completions.members[text.slice(0, dot)];
  if (!options) return null;
  return { from: match.from + dot + 1, options, validFor: /^[\w$]*$/ };
}

function declaredCommands(textarea) {
  const selector = textarea.dataset.commandsSelector;
  if (selector) {
    return [...document.querySelectorAll(selector)]
      .map((input) => input.value.trim())
      .filter((name) => name.length > 0);
  }
  try {
    const list = JSON.parse(textarea.dataset.commands || "[]");
    return Array.isArray(list) ? list.filter((name) => typeof name === "string") : [];
  } catch {
    return [];
  }
}

/** The session's CSRF token: the form's `csrf` field, the page's htmx
 * headers (`<body hx-headers>`) or `<meta name="csrf-token">`. */
function csrfToken(textarea) {
  const field = textarea.form && textarea.form.querySelector('input[name="csrf"]');
  if (field && field.value) return field.value;
  try {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    if (headers["x-csrf-token"]) return headers["x-csrf-token"];
  } catch {
    // not JSON: fall through
  }
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : null;
}

/** Ask the host's compiler about `source`; null when it could not answer. */
async function check(textarea, source) {
  const url = textarea.dataset.checkUrl;
  if (!url) return null;
  const headers = { "content-type": "application/json", accept: "application/json" };
  const token = csrfToken(textarea);
  if (token) headers["x-csrf-token"] = token;
  try {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers,
      body: JSON.stringify({ scriptSource: source, commands: declaredCommands(textarea) }),
    });
    if (!response.ok) return null;
    return await response.json();
  } catch {
    return null;
  }
}

/** The check's findings as CodeMirror diagnostics: 1-based line and column
 * from the compiler, the rest of the line underlined. */
function toDiagnostics(doc, result) {
  return (result.diagnostics || []).map((finding) => {
    let from = 0;
    let to = 0;
    if (finding.line && finding.line >= 1 && finding.line <= doc.lines) {
      const line = doc.line(finding.line);
      from = Math.min(line.from + Math.max((finding.column || 1) - 1, 0), line.to);
      to = line.to > from ? line.to : from;
    }
    const where = finding.line ? `line ${finding.line}, column ${finding.column || 1}: ` : "";
    return {
      from,
      to,
      severity: finding.severity === "warning" ? "warning" : "error",
      source: finding.code,
      message: where + finding.message,
    };
  });
}

function statusElement(textarea) {
  const scope = textarea.form || document;
  return scope.querySelector("[data-floh-editor-status]");
}

function announce(textarea, result) {
  const status = statusElement(textarea);
  if (!status || !result) return;
  const errors = (result.diagnostics || []).filter((d) => d.severity !== "warning");
  if (errors.length === 0) {
    status.textContent = "The script compiles.";
  } else {
    const first = errors[0];
    const where = first.line ? ` at line ${first.line}, column ${first.column || 1}` : "";
    status.textContent = `${errors.length} error${errors.length > 1 ? "s" : ""}${where}: ${first.message}`;
  }
  status.dataset.state = errors.length === 0 ? "ok" : "error";
}

function updateUnsaved(entry) {
  const dirty = entry.view.state.doc.toString() !== entry.saved;
  entry.dirty = dirty;
  const scope = entry.textarea.form || document;
  for (const marker of scope.querySelectorAll("[data-floh-unsaved]")) {
    marker.hidden = !editors.some((e) => e.dirty && (e.textarea.form || document) === scope);
  }
}

function labelOf(textarea) {
  if (textarea.getAttribute("aria-label")) return textarea.getAttribute("aria-label");
  const label = textarea.labels && textarea.labels[0];
  return label ? label.textContent.trim() : "Script";
}

function mount(textarea) {
  const readOnly = textarea.hasAttribute("data-readonly") || textarea.readOnly;
  const host = document.createElement("div");
  host.className = "floh-editor";
  host.dataset.flohEditorHost = "";
  textarea.after(host);
  textarea.hidden = true;
  const shadow = host.attachShadow({ mode: "open" });
  const entry = { textarea, saved: textarea.value, dirty: false, view: null, lastResult: null };

  const extensions = [
    lineNumbers(),
    highlightActiveLineGutter(),
    foldGutter(),
    history(),
    drawSelection(),
    indentOnInput(),
    bracketMatching(),
    closeBrackets(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    syntaxHighlighting(highlightStyle),
    // Keywords, snippets and the script's own names; no browser globals,
    // which the sandbox does not have.
    javascript(),
    javascriptLanguage.data.of({ autocomplete: flohCompletions }),
    autocompletion(),
    // Tab is left to move focus (keyboard users must be able to leave).
    keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...foldKeymap, ...completionKeymap, ...lintKeymap]),
    // tabindex: axe counts contenteditable as focusable only with one, and
    // the scroller around it must contain something focusable.
    EditorView.contentAttributes.of({ "aria-label": labelOf(textarea), tabindex: "0" }),
    EditorView.theme({
      "&": { border: "1px solid #8a8f98", borderRadius: "4px", fontSize: "14px", backgroundColor: "#fff", color: "#1d1f23" },
      "&.cm-focused": { outline: "3px solid #1a5fb4", outlineOffset: "1px" },
      ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", minHeight: "14em", maxHeight: "36em" },
      ".cm-gutters": { backgroundColor: "#f3f4f6", color: "#4b5058", borderRight: "1px solid #d0d3d8" },
      ".cm-activeLine": { backgroundColor: "#f0f6fc" },
      ".cm-activeLineGutter": { backgroundColor: "#e2e8f0" },
    }),
    EditorView.updateListener.of((update) => {
      if (!update.docChanged) return;
      textarea.value = update.state.doc.toString();
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      updateUnsaved(entry);
    }),
    EditorState.readOnly.of(readOnly),
  ];
  if (!readOnly) {
    extensions.push(lintGutter());
    extensions.push(
      linter(
        async (view) => {
          const result = await check(textarea, view.state.doc.toString());
          entry.lastResult = result;
          announce(textarea, result);
          return result ? toDiagnostics(view.state.doc, result) : [];
        },
        { delay: 500 },
      ),
    );
  }
  entry.view = new EditorView({ doc: textarea.value, extensions, parent: shadow, root: shadow });
  host.flohEditor = {
    view: entry.view,
    getValue: () => entry.view.state.doc.toString(),
    setValue: (text) => entry.view.dispatch({ changes: { from: 0, to: entry.view.state.doc.length, insert: text } }),
  };
  editors.push(entry);
  updateUnsaved(entry);
  if (textarea.form && !readOnly) guardSubmit(textarea.form, entry);
}

/** Check before a form with an editor is submitted; errors keep the form
 * from being sent and put the cursor on the first one. */
function guardSubmit(form, entry) {
  form.addEventListener(
    "submit",
    async (event) => {
      if (form.dataset.flohChecked === "yes") {
        form.dataset.flohChecked = "";
        leaving = true;
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      const source = entry.view.state.doc.toString();
      const result = await check(entry.textarea, source);
      entry.lastResult = result;
      announce(entry.textarea, result);
      const errors = result ? result.diagnostics.filter((d) => d.severity !== "warning") : [];
      if (errors.length > 0) {
        forceLinting(entry.view);
        const first = toDiagnostics(entry.view.state.doc, { diagnostics: errors })[0];
        entry.view.dispatch({ selection: { anchor: first.from }, scrollIntoView: true });
        entry.view.focus();
        return;
      }
      // No answer (network, server down): let the server's own compile decide.
      form.dataset.flohChecked = "yes";
      form.requestSubmit(event.submitter || undefined);
    },
    true,
  );
}

window.addEventListener("beforeunload", (event) => {
  if (leaving || !editors.some((entry) => entry.dirty)) return;
  event.preventDefault();
  event.returnValue = "";
});

function start() {
  for (const textarea of document.querySelectorAll("textarea[data-floh-editor]")) {
    if (!textarea.dataset.flohEditorMounted) {
      textarea.dataset.flohEditorMounted = "yes";
      mount(textarea);
    }
  }
}

// `<input type="file" data-floh-file-into="ID">`: the chosen file's text
// goes into the textarea #ID (the form then posts text, as if pasted).
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.dataset.flohFileInto || !input.files || !input.files[0]) return;
  const target = document.getElementById(input.dataset.flohFileInto);
  if (!target) return;
  input.files[0].text().then((text) => {
    target.value = text;
    target.dispatchEvent(new Event("input", { bubbles: true }));
  });
});

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
// Parts of pages swapped in later (htmx) may bring editors along.
document.addEventListener("htmx:afterSettle", start);
