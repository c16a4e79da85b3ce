"""How a citation is shown to people: the document's title and 文号, then the clause, e.g.

    《落实意识形态工作责任制考核办法（试行）》晋市职院党〔2020〕44号 考核评分体系 1.2

rather than the seed's file name. One function for the CLI, the reminder messages and the web.
The title and number come from the pack's ``[documents."<seed file>"]`` table (docs/packs.md);
a source the pack does not name is shown by its file name.
"""

from __future__ import annotations

from obligations.packs import Citation

__all__ = ["cite", "document_name"]


def document_name(citation: Citation) -> str:
    """The document a citation is from: 「《title》number」, or the source file name."""
    doc = citation.document
    if doc is None:
        return citation.source
    return doc.title + (doc.number or "")


def cite(citation: Citation, *, quote: bool = False) -> str:
    """「《title》number clause」, with 「：「quote」」 after it when ``quote``."""
    text = f"{document_name(citation)} {citation.clause}"
    return f"{text}：「{citation.quote}」" if quote else text
