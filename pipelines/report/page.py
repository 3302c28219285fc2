"""The page's only script (sorting the long tables) and the policy that allows nothing else.

The report is readable without the script: the long tables are written already ordered by
rate, highest first, secret rows last. The script only lets a reader re-sort a table by a
column (click or Enter on its head). It is inline and allowed by its SHA-256 hash in a
Content-Security-Policy meta tag that forbids every other script, every fetch of any kind
(``default-src 'none'``) and every style but the page's own ``<style>`` element, by its hash
too: even a figure that an analyst pastes into a name could not run or load anything.

No ``//`` in the script (no comment, no URL): the tests refuse any such reference in the page.
The template ``rapport_analystes.html.j2`` writes the meta tag and the script element.
"""

from __future__ import annotations

import base64
import hashlib

# Columns whose head has data-tri="n" sort as French numbers (narrow spaces, comma, true minus),
# highest first on the first click; a cell without a digit ("s", "–") always sorts last. Other
# columns sort as French text, A to Z first. A second click reverses.
SORT_SCRIPT = (
    "(function(){"
    'function num(c){var t=c.textContent.replace(/[\\s\\u202f\\u00a0]/g,"")'
    '.replace("\\u2212","-").replace(",",".");var m=t.match(/[-+]?\\d+(\\.\\d+)?/);'
    "return m?parseFloat(m[0]):null}"
    'document.querySelectorAll("table.triable").forEach(function(tb){'
    "var heads=tb.tHead.rows[0].cells;"
    "[].forEach.call(heads,function(th,i){"
    'th.tabIndex=0;th.classList.add("tri");'
    'var n=th.getAttribute("data-tri")==="n";'
    "function go(){"
    'var cur=th.getAttribute("aria-sort"),desc=n?cur!=="descending":cur==="ascending";'
    '[].forEach.call(heads,function(h){h.removeAttribute("aria-sort")});'
    'th.setAttribute("aria-sort",desc?"descending":"ascending");'
    "var b=tb.tBodies[0],rows=[].slice.call(b.rows),s=desc?-1:1;"
    "rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];"
    "if(n){var p=num(a),q=num(c);if(p===null||q===null){return (p===null)-(q===null)}"
    "return s*(p-q)}"
    'return s*a.textContent.localeCompare(c.textContent,"fr")});'
    "rows.forEach(function(r){b.appendChild(r)})}"
    'th.addEventListener("click",go);'
    'th.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" ")'
    "{e.preventDefault();go()}})})})})();"
)


def sha256(text: str) -> str:
    """The CSP source expression of an inline element's exact text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def policy(stylesheet: str, script: str = SORT_SCRIPT) -> str:
    """The Content-Security-Policy: nothing but this stylesheet and this script."""
    return (
        "default-src 'none'; "
        f"script-src '{sha256(script)}'; "
        f"style-src '{sha256(stylesheet)}'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
