"""Company-supplied strings (account, person, product names, notes) shown as text, never as markup.

`md(s)` escapes a value for anything Streamlit renders as markdown (titles, headers, captions, `st.markdown`,
`st.write`): every ASCII punctuation character gets a backslash (CommonMark renders it literally), so
`[Click](https://...)`, `![img](...)`, `**`, `:red[...]` and `:material/...:` stay plain text, and line breaks
become spaces. `html(s)` escapes a value for plotly text (chart titles, labels, hovers), which reads a small
set of HTML tags such as `<a href>`. Tables (`st.dataframe`) show cells as text already."""
from __future__ import annotations

import html as _html
import re

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def md(value: object) -> str:
    text = "" if value is None else str(value)
    return _PUNCT.sub(r"\\\1", re.sub(r"[\r\n]+", " ", text))


def html(value: object) -> str:
    return _html.escape("" if value is None else str(value), quote=True)
