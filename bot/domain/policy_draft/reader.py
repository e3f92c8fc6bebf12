"""Reading a policy document (.txt, .md, .docx) into plain paragraphs.

Word keeps automatic list numbers ("1.", "(一)") outside the paragraph text, and marks
headings by style; both carry the document's structure, so they are turned into text
markers the same parser reads in plain-text documents ("1." prefixes, "#" headings).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".txt", ".md", ".markdown", ".docx")


class DocumentError(Exception):
    """The document cannot be read (missing, wrong type, not text)."""


@dataclass(frozen=True)
class Block:
    """One paragraph. ``heading``: 1..6 for a Markdown / Word heading, else 0."""

    text: str
    heading: int = 0


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def read_document(path: str | Path) -> list[Block]:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise DocumentError(
            f"{p}: unsupported file type {suffix or '(none)'!r}; use .txt, .md or .docx"
        )
    if not p.is_file():
        raise DocumentError(f"{p}: no such file")
    if suffix == ".docx":
        return _read_docx(p)
    raw = p.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):  # Chinese offices still save GBK text files
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost anything
        raise DocumentError(f"{p}: not a text file (neither UTF-8 nor GB18030)")
    if b"\x00" in raw[:4096]:
        raise DocumentError(f"{p}: not a text file")
    return parse_text(text, markdown=suffix in (".md", ".markdown"))


def parse_text(text: str, markdown: bool = False) -> list[Block]:
    """Split text into paragraphs: one per non-empty line (Markdown headings marked)."""
    blocks: list[Block] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.strip().replace("\u3000", " ")
        if not line:
            continue
        level = 0
        m = _MD_HEADING.match(line)
        if m and (markdown or line.startswith("#")):
            level, line = len(m.group(1)), m.group(2)
        if markdown:
            line = _MD_EMPHASIS.sub(r"\2", line)
            if line in ("---", "***", "___") or line.startswith("|---"):
                continue
            line = re.sub(r"^[-*+]\s+", "- ", line)
            line = line.lstrip("> ").strip()
        if line:
            blocks.append(Block(line, level))
    return blocks


def _read_docx(path: Path) -> list[Block]:
    try:
        import docx  # python-docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise DocumentError("reading .docx needs python-docx (pip install python-docx)") from e
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise DocumentError(f"{path}: not a Word .docx document ({e})") from None
    blocks: list[Block] = []
    counters: dict[tuple[str, int], int] = {}
    for para in _paragraphs(document):
        text = para.text.strip().replace("\u3000", " ")
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        level = _heading_level(style)
        number = _auto_number(para, style, counters)
        if number and not re.match(r"^\s*[\(（]?[0-9一二三四五六七八九十]+[\.、\)）:：]", text):
            text = f"{number}{text}"
        for line in text.split("\n"):  # soft line breaks inside one paragraph
            if line.strip():
                blocks.append(Block(line.strip(), level))
                level = 0
    return blocks


def _paragraphs(document):
    """Body paragraphs and the paragraphs of table cells, in document order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, document)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    yield from cell.paragraphs


def _heading_level(style: str) -> int:
    s = style.lower()
    if s == "title":
        return 1
    m = re.match(r"^(heading|标题)\s*(\d)$", s)
    return int(m.group(2)) if m else 0


def _auto_number(para, style: str, counters: dict[tuple[str, int], int]) -> str:
    """A "1." marker for a paragraph numbered by Word (numPr or a List Number style)."""
    ppr = para._p.pPr
    num_id, ilvl = None, 0
    if ppr is not None and ppr.numPr is not None:
        if ppr.numPr.numId is not None:
            num_id = str(ppr.numPr.numId.val)
        if ppr.numPr.ilvl is not None:
            ilvl = int(ppr.numPr.ilvl.val)
    elif style.lower().startswith("list number"):
        num_id = style
    elif style.lower().startswith("list bullet"):
        return "- "
    if num_id is None or num_id == "0":
        return ""
    key = (num_id, ilvl)
    counters[key] = counters.get(key, 0) + 1
    for k in list(counters):  # a new item restarts the deeper levels below it
        if k[0] == num_id and k[1] > ilvl:
            del counters[k]
    return f"{counters[key]}."
