"""mkdocs hook: links in the README that point into ``docs/`` also work on the site.

``docs/index.md`` is a link to ``README.md``, so the README's links are
written for the repository (``docs/method.md``); on the site the home page
already sits in ``docs/``, where the same page is ``method.md``.
"""

import re

_INTO_DOCS = re.compile(r"\]\(docs/")


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "index.md":
        return _INTO_DOCS.sub("](", markdown)
    return markdown
