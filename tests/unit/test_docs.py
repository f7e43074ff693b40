"""The documentation stays true to the tree: every relative link (and its
anchor) resolves, the README's role table lists exactly the roles in roles/,
its layout table names paths that exist, docs/operations.md names every
playbook, and the README stays a front door (short)."""

import glob
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(REPO, "README.md")
OPERATIONS = os.path.join(REPO, "docs", "operations.md")
README_MAX_LINES = 160

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
# [text](target) and ![alt](target); the text may hold inline code, not brackets.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _doc_files():
    files = [README, os.path.join(REPO, "CONTRIBUTING.md")]
    files += sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
    files += sorted(glob.glob(os.path.join(REPO, "roles", "*", "README.md")))
    return files


DOCS = _doc_files()


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading: lower case, markup and punctuation
    dropped (letters, digits, '_' and '-' kept), spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen = {}
    found = set()
    for _lineno, line in _prose_lines(_read(path)):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else "%s-%d" % (base, count))
    return found


def links(path):
    """(line number, target) of every relative link outside code."""
    for number, line in _prose_lines(_read(path)):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto:, ...
                continue
            yield number, target


def test_the_files_are_there():
    rels = {os.path.relpath(path, REPO) for path in DOCS}
    assert {"README.md", "CONTRIBUTING.md", "docs/operations.md"} <= rels
    assert any(rel.startswith("roles/") for rel in rels)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: os.path.relpath(p, REPO))
def test_relative_links_resolve(path):
    broken = []
    for number, target in links(path):
        file_part, _hash, anchor = target.partition("#")
        where = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        rel = "%s:%d: %s" % (os.path.relpath(path, REPO), number, target)
        if not os.path.exists(where):
            broken.append("%s (no file %s)" % (rel, os.path.relpath(where, REPO)))
        elif not where.startswith(REPO + os.sep):
            broken.append("%s (outside the repository)" % rel)
        elif anchor and where.endswith(".md") and anchor not in anchors(where):
            broken.append("%s (no heading with anchor #%s in %s)" % (rel, anchor, os.path.relpath(where, REPO)))
    assert not broken, "broken links:\n" + "\n".join(broken)


def _tables(path):
    """Each Markdown table as (header cells, rows of cells)."""
    tables, current = [], None
    for _lineno, line in _prose_lines(_read(path)):
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if current is None:
                current = (cells, [])
                tables.append(current)
            elif not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current[1].append(cells)
        else:
            current = None
    return tables


def _column(path, name):
    """The cells of column `name` in the one table of `path` that has it."""
    found = [table for table in _tables(path) if name in table[0]]
    assert len(found) == 1, "%s: expected one table with a %r column, found %d" % (path, name, len(found))
    header, rows = found[0]
    return [row[header.index(name)] for row in rows]


def test_readme_role_table_lists_exactly_the_roles():
    roles = sorted(name for name in os.listdir(os.path.join(REPO, "roles")) if not name.startswith((".", "_")))
    listed = []
    for cell in _column(README, "role"):
        match = re.fullmatch(r"\[`prodkit\.stack\.(\w+)`\]\(roles/(\w+)/README\.md\)", cell)
        assert match, "README role table: %r is not [`prodkit.stack.<role>`](roles/<role>/README.md)" % cell
        assert match.group(1) == match.group(2), "README role table: %s links to %s's README" % match.groups()
        listed.append(match.group(1))
    assert len(listed) == len(set(listed)), "README role table lists a role twice: %s" % listed
    assert sorted(listed) == roles, "README role table: missing %s, not in roles/ %s" % (
        sorted(set(roles) - set(listed)), sorted(set(listed) - set(roles)))


def test_readme_layout_table_names_existing_paths():
    missing = []
    for cell in _column(README, "path"):
        paths = re.findall(r"`([^`]+)`", cell)
        assert paths, "README layout table: no path in %r" % cell
        missing += [path for path in paths if not os.path.exists(os.path.join(REPO, path))]
    assert not missing, "README layout table names paths that do not exist: %s" % missing


def test_operations_names_every_playbook():
    text = _read(OPERATIONS)
    playbooks = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "playbooks", "*.yml")))
    assert playbooks
    missing = [name for name in playbooks if "playbooks/%s" % name not in text]
    assert not missing, "docs/operations.md does not mention %s" % ", ".join("playbooks/" + m for m in missing)


def test_readme_is_a_front_door():
    lines = _read(README).splitlines()
    assert len(lines) <= README_MAX_LINES, (
        "README.md has %d lines (at most %d): move details to docs/operations.md, CONTRIBUTING.md "
        "or a role's README" % (len(lines), README_MAX_LINES))
    headings = [match.group(2) for _lineno, line in _prose_lines(_read(README)) for match in [HEADING.match(line)] if match]
    for wanted in ("The two commands", "Architecture", "Quick start on a real server"):
        assert wanted in headings, "README.md has no %r section" % wanted


def test_slug_matches_github():
    assert slug("How long site.yml takes") == "how-long-siteyml-takes"
    assert slug("The `make` targets, in detail") == "the-make-targets-in-detail"
    assert slug("prodkit.stack.nginx_certbot") == "prodkitstacknginx_certbot"
