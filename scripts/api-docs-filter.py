#!/usr/bin/env python3
# doxygen's INPUT_FILTER for scripts/api-docs: reads a header written with plain `//` comments and
# prints it with the comments doxygen should read as documentation turned into doc comments, line
# for line (no line is added or removed, so warnings point at the real lines):
# - the comment block right after `#pragma once` describes the file: `#pragma once` becomes
#   `/// \file` (with --mainpage, `/// \mainpage`) and the block `///` lines;
# - a run of `//` lines directly above a declaration (no blank line between, at namespace, class
#   or enum scope, outside any parentheses) becomes `///` lines;
# - a `// text` after a declaration or enumerator on the same line becomes `///< text`.
# Comments inside function bodies and initializers, comments before a blank line, a preprocessor
# line or a closing brace, and `//` inside string or character literals are left alone. In the
# text turned into documentation, the characters doxygen would read as commands (\ @ % # < > &)
# are escaped (see escape()); lines indented two spaces more than the text around them, outside a
# list, become a markdown code block.
# Usage: scripts/api-docs-filter.py [--mainpage] FILE
import re
import sys

ACCESS = re.compile(r"^(public|protected|private)\s*:(?!:)\s*")
TEMPLATE = re.compile(r"^template\s*<")
SCOPE = re.compile(r"^(export\s+)?(inline\s+)?(namespace|class|struct|union|enum)\b")
ESCAPED = re.compile(r"([\\@%#<>&])")
ABBREVIATION = re.compile(r"\b(e\.g\.|i\.e\.|cf\.|vs\.) ")  # not the end of the brief sentence


class Line:
    def __init__(self, text):
        self.text = text
        self.comment = None  # column of the `//` that begins a line comment
        self.code = ""  # the code before it, literals and block comments blanked
        self.preprocessor = False
        self.starts_inside = False  # begins inside a block comment or a raw string literal
        self.scope_at_start = True  # every enclosing brace is a namespace, class or enum
        self.scope_at_end = True
        self.parens_at_end = 0
        self.statement_at_start = ""  # the declaration this line continues, if any
        self.documented = False  # part of the file's comment, already turned


def skip_template_head(text):
    """text without a leading `template <...>` (angle brackets balanced)."""
    while TEMPLATE.match(text):
        depth, i = 0, text.index("<")
        while i < len(text):
            depth += {"<": 1, ">": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        text = text[i:].lstrip()
    return text


def brace_kind(statement):
    head = ACCESS.sub("", statement.strip())
    head = skip_template_head(head)
    if SCOPE.match(head) or head.startswith('extern "'):
        return "enum" if head.startswith("enum") else "scope"
    return "other"


def scan(lines):
    """Finds each line's comment, code and the braces around it."""
    block_comment = False
    raw_end = None  # the `)delim"` that ends the raw string literal we are in
    stack = []  # "scope", "enum" or "other" per open brace
    parens = 0
    statement = ""  # code since the last `;`, `{` or `}` (or `,` in an enum) at this level
    continued = False  # the previous line ended with a backslash (a macro continues)
    for line in lines:
        text = line.text
        line.starts_inside = block_comment or raw_end is not None
        line.scope_at_start = all(kind != "other" for kind in stack)
        line.statement_at_start = statement.strip()
        if not line.starts_inside and (text.lstrip().startswith("#") or continued):
            line.preprocessor = True
            continued = text.rstrip().endswith("\\")
            line.scope_at_end = line.scope_at_start
            line.parens_at_end = parens
            continue
        code = []
        i, n = 0, len(text)
        while i < n:
            if block_comment:
                end = text.find("*/", i)
                if end < 0:
                    i = n
                else:
                    block_comment = False
                    code.append(" " * (end + 2 - i))
                    i = end + 2
                continue
            if raw_end is not None:
                end = text.find(raw_end, i)
                if end < 0:
                    i = n
                else:
                    code.append('"')
                    i = end + len(raw_end)
                    raw_end = None
                continue
            c = text[i]
            if text.startswith("//", i):
                line.comment = i
                break
            if text.startswith("/*", i):
                block_comment = True
                code.append("  ")
                i += 2
                continue
            raw = re.match(r'(?:u8|[uUL])?R"([^()\\ ]{0,16})\(', text[i:])
            if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                raw_end = ")" + raw.group(1) + '"'
                code.append('"')
                i += raw.end()
                continue
            if c == '"' or (c == "'" and not (i > 0 and text[i - 1].isalnum())):  # 1'000 is a number
                j = i + 1
                while j < n and text[j] != c:
                    j += 2 if text[j] == "\\" else 1
                code.append(c + " " * max(0, min(j, n) - i - 1) + c)
                i = j + 1
                continue
            if c == "{":
                stack.append(brace_kind(statement))
                statement = ""
            elif c == "}":
                if stack:
                    stack.pop()
                statement = ""
            elif c == ";" or (c == "," and stack and stack[-1] == "enum" and parens == 0):
                statement = ""
            elif c in "([":
                parens += 1
                statement += c
            elif c in ")]":
                parens = max(0, parens - 1)
                statement += c
            else:
                statement += c
                if c == ":" and ACCESS.match(statement.strip() + " "):
                    statement = ""
            code.append(c)
            i += 1
        line.code = "".join(code)
        if line.comment is None:
            line.code = line.code.rstrip()
        statement += " "
        line.scope_at_end = all(kind != "other" for kind in stack)
        line.parens_at_end = parens
    return lines


def comment_only(line):
    return line.comment is not None and not line.starts_inside and not line.preprocessor and line.code.strip() == ""


def closing(text, start, mark, newlines):
    """Where the `mark` that closes the one at start is, with at most `newlines` line breaks
    between them, or -1."""
    end = text.find(mark, start + 1)
    return end if end >= 0 and text.count("\n", start, end) <= newlines else -1


def escape(text):
    """text as doxygen shows it: outside `code spans` and "quotes" the characters that start
    doxygen commands are escaped; inside a code span `%` (which doxygen would drop) is doubled and
    `"` (which would start a quote past the span's end) is an entity; a quote is left as it is.
    `e.g. ` and the like do not end the brief description. text may have several lines."""
    out, plain, i = [], [], 0

    def flush():
        out.append(ABBREVIATION.sub(r"\1\\ ", ESCAPED.sub(r"\\\1", "".join(plain))))
        plain.clear()

    while i < len(text):
        c = text[i]
        end = closing(text, i, c, 1) if c in '`"' else -1
        if end < 0:
            plain.append(c)
            i += 1
            continue
        flush()
        span = text[i : end + 1]
        out.append(span.replace("%", "%%").replace('"', "&quot;") if c == "`" else span)
        i = end + 1
    flush()
    return "".join(out)


def document_run(lines, first, last, prefix):
    """Turns the `//` lines first..last into `///` lines (the first one's marker replaced by
    prefix when given); indented lines outside a list become a markdown code block, as they are."""
    bodies, verbatim, in_list = [], [], False
    for index in range(first, last + 1):
        line = lines[index]
        body = line.text[line.comment + 2 :]
        code = False
        if not body.strip():
            in_list = False
        elif re.match(r"^\s?([-*+]|\d+\.)\s", body):
            in_list = True
        elif body.startswith("   ") and not in_list:
            body, code = "    " + body, True  # `//   code`: four spaces more than the text around it
        bodies.append(body)
        verbatim.append(code)
    # Escaped a paragraph at a time: a code span or a quote may go on to the next line.
    escaped, start = [], 0
    for k in range(len(bodies) + 1):
        if k == len(bodies) or verbatim[k]:
            if k > start:
                escaped += escape("\n".join(bodies[start:k])).split("\n")
            if k < len(bodies):
                escaped.append(bodies[k])
            start = k + 1
    for index, body in zip(range(first, last + 1), escaped):
        line = lines[index]
        if line.text[line.comment + 2 :].startswith(("/", "!")):
            continue  # already a doc comment (`///`, `//!`)
        marker = prefix if (index == first and prefix) else "///"
        line.text = line.text[: line.comment] + marker + body


def convert(lines, mainpage):
    count = len(lines)
    # The file's own comment: the block right after `#pragma once`.
    for index, line in enumerate(lines):
        if line.text.strip() == "#pragma once":
            end = index + 1
            while end < count and comment_only(lines[end]):
                end += 1
            if end > index + 1:
                line.text = "/// \\mainpage" if mainpage else "/// \\file"
                document_run(lines, index + 1, end - 1, None)
                for k in range(index + 1, end):
                    lines[k].documented = True
            break
    index = 0
    while index < count:
        line = lines[index]
        if line.documented:
            index += 1
            continue
        if comment_only(line):
            end = index
            while end + 1 < count and comment_only(lines[end + 1]):
                end += 1
            after = lines[end + 1] if end + 1 < count else None
            code = after.code.strip() if after else ""
            if (
                line.scope_at_start
                and line.parens_at_end == 0
                and line.statement_at_start == ""
                and after is not None
                and not after.preprocessor
                and not after.starts_inside
                and code
                and not code.startswith("}")
                and not ACCESS.match(code + " ")
            ):
                document_run(lines, index, end, None)
            index = end + 1
            continue
        code = line.code.strip()
        if (
            line.comment is not None
            and not line.preprocessor
            and not line.starts_inside
            and code
            and line.scope_at_start
            and line.scope_at_end
            and line.parens_at_end == 0
            and code[-1] in ";,}"
            and not code.startswith("}")
            and line.text[line.comment :].startswith("// ")
        ):
            body = escape(line.text[line.comment + 2 :])
            line.text = line.text[: line.comment] + "///<" + body
        index += 1


def main():
    args = sys.argv[1:]
    mainpage = "--mainpage" in args
    files = [arg for arg in args if arg != "--mainpage"]
    if len(files) != 1:
        sys.exit("usage: api-docs-filter.py [--mainpage] FILE")
    with open(files[0], encoding="utf-8") as source:
        text = source.read()
    ends_with_newline = text.endswith("\n")
    lines = [Line(part) for part in (text[:-1] if ends_with_newline else text).split("\n")]
    convert(scan(lines), mainpage)
    sys.stdout.write("\n".join(line.text for line in lines) + ("\n" if ends_with_newline else ""))


if __name__ == "__main__":
    main()
