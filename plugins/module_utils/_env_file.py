# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse, plan and render Docker Compose ``.env`` files (private to prodkit.stack).

Everything here is pure: no AnsibleModule, no file system. The module
``prodkit.stack.env_secrets`` reads the file, calls :func:`plan_env_file` and
writes :attr:`EnvPlan.text`; the unit tests call the same functions.

The reading side follows Compose v2's dotenv parser (compose-go), measured
with ``docker compose config`` 2.26:

* ``KEY='...'``: literal, except that ``\\'`` stands for ``'`` (so a value
  cannot end with a backslash inside single quotes);
* ``KEY="..."``: ``\\"``, ``\\\\``, ``\\$`` and the C escapes (``\\n``,
  ``\\t`` ...) are processed, then ``${VAR}`` / ``$VAR`` interpolated,
  ``$$`` is a literal ``$``;
* ``KEY=...`` unquoted: cut at the first `` #``, trimmed, interpolated.

The writing side (:func:`quote_value`) picks single quotes whenever they
carry the value literally, double quotes with ``\\\\``, ``\\"`` and ``\\$``
escaped otherwise; either way Compose reads back exactly the same string.
"""

from __future__ import annotations

import re
import secrets as _secrets
import string

HEADER = '# Managed by prodkit.stack.env_secrets'
MASK = '********'

KEY_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')

# Keys as Compose accepts them in a file written by hand.
_ENTRY_RE = re.compile(r'^\s*(export\s+)?([A-Za-z0-9_.\-]+)\s*(?:(=)[ \t]*(.*))?$', re.DOTALL)
_COMMENTED_ASSIGNMENT_RE = re.compile(r'^(\s*#\s*(?:export\s+)?[A-Za-z0-9_.\-]+\s*=).*$')
_C_ESCAPES = {'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\', '"': '"'}
_FORBIDDEN_CHARS = {'\n': 'a newline', '\r': 'a carriage return', '\x00': 'a NUL character'}

SECRET_TYPES = ('token', 'hex', 'password', 'django', 'base64')
DEFAULT_LENGTHS = {'token': 32, 'hex': 32, 'password': 32, 'django': 50, 'base64': 32}
MIN_LENGTH = 8
MAX_LENGTH = 4096
_ALPHABETS = {
    'token': string.ascii_letters + string.digits + '-_',
    'hex': '0123456789abcdef',
    'password': string.ascii_letters + string.digits,
    # What django.core.management.utils.get_random_secret_key() draws from.
    'django': 'abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)',
}


class EnvFileError(Exception):
    """A problem with the inputs or the existing file; the message never holds a value."""


class EnvLine:
    """One logical line of an env file: ``blank``, ``comment`` or ``entry``.

    ``raw`` is the exact source text (several physical lines for a quoted
    value that spans lines). For entries, ``value`` is what Compose reads
    (``None`` for a bare ``KEY`` that Compose takes from its environment) and
    ``interpolated`` tells that the value refers to other variables, so its
    final text is not known from the file alone.
    """

    __slots__ = ('kind', 'raw', 'key', 'value', 'interpolated', 'exported')

    def __init__(self, kind, raw, key=None, value=None, interpolated=False, exported=False):
        self.kind = kind
        self.raw = raw
        self.key = key
        self.value = value
        self.interpolated = interpolated
        self.exported = exported

    def __repr__(self):
        # Never show a value: reprs end up in tracebacks.
        return 'EnvLine(%s, key=%r)' % (self.kind, self.key)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

def _scan_quoted(src, quote):
    """Return (chars, end) for a quoted value that starts at src[0] == quote.

    ``end`` is the index just past the closing quote, or None when the quote
    is not closed. Like compose-go, a backslash escapes the quote character
    (and is dropped); any other backslash sequence is kept as it is.
    """
    chars = []
    escaped = False
    for i in range(1, len(src)):
        char = src[i]
        if char != quote:
            if not escaped and char == '\\':
                escaped = True
                continue
            if escaped:
                escaped = False
                chars.append('\\')
            chars.append(char)
            continue
        if escaped:
            escaped = False
            chars.append(char)
            continue
        return ''.join(chars), i + 1
    return None, None


_ESCAPE = re.compile(r'\\(.)', re.DOTALL)


def _expand_escapes(text):
    """Double-quoted escapes: ``\\$`` becomes ``$$`` (a literal dollar for the interpolation pass)."""
    def expand(match):
        nxt = match.group(1)
        if nxt == '$':
            return '$$'
        return _C_ESCAPES.get(nxt, match.group(0))
    return _ESCAPE.sub(expand, text)


def _interpolate(text):
    """Resolve ``$$`` and report whether ``text`` refers to variables.

    Returns (value, interpolated). When the text refers to a variable the
    value is returned as written (its result depends on the environment).
    """
    out = []
    i = 0
    interpolated = False
    while i < len(text):
        char = text[i]
        if char == '$' and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == '$':
                out.append('$')
                i += 2
                continue
            if nxt == '{' or nxt == '_' or nxt.isalpha():
                interpolated = True
        out.append(char)
        i += 1
    if interpolated:
        return text, True
    return ''.join(out), False


def parse_env(text):
    """Parse the text of an env file into a list of :class:`EnvLine`.

    Raises EnvFileError naming the line number (never its content) when a
    line is not ``KEY=VALUE``, ``KEY``, a comment or blank.
    """
    physical = text.split('\n')
    if text.endswith('\n'):
        physical.pop()
    lines = []
    index = 0
    while index < len(physical):
        line = physical[index]
        lineno = index + 1
        index += 1
        stripped = line.strip()
        if not stripped:
            lines.append(EnvLine('blank', line))
            continue
        if stripped.startswith('#'):
            lines.append(EnvLine('comment', line))
            continue
        match = _ENTRY_RE.match(line)
        if not match:
            raise EnvFileError('line %d is not KEY=VALUE' % lineno)
        exported, key, equals, rest = match.groups()
        if not equals:
            lines.append(EnvLine('entry', line, key=key, value=None, exported=bool(exported)))
            continue
        raw = line
        if rest[:1] in ('"', "'"):
            quote = rest[0]
            src = rest
            chars, end = _scan_quoted(src, quote)
            # A quoted value may go on over the following lines.
            while end is None and index < len(physical):
                src += '\n' + physical[index]
                raw += '\n' + physical[index]
                index += 1
                chars, end = _scan_quoted(src, quote)
            if end is None:
                raise EnvFileError('line %d opens a quoted value that is never closed' % lineno)
            if quote == "'":
                value, interpolated = chars, False
            else:
                value, interpolated = _interpolate(_expand_escapes(chars))
        else:
            value = rest.split(' #', 1)[0].rstrip()
            value, interpolated = _interpolate(value)
        lines.append(EnvLine('entry', raw, key=key, value=value, interpolated=interpolated, exported=bool(exported)))
    return lines


def env_values(lines):
    """Map key -> EnvLine for the entries (the last one wins, as in Compose)."""
    result = {}
    for line in lines:
        if line.kind == 'entry':
            result[line.key] = line
    return result


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def validate_key(key):
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise EnvFileError('Error validating key %r: a key must match %s' % (key, KEY_RE.pattern))


def validate_value(key, value):
    """Reject what an env file cannot hold; the message names the key, never the value."""
    for char, what in _FORBIDDEN_CHARS.items():
        if char in value:
            raise EnvFileError('Error validating value of key %s: it contains %s, which a Compose env file cannot hold on one line' % (key, what))


def to_text(key, value):
    """Turn a YAML scalar into the string written to the file."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    raise EnvFileError('Error validating value of key %s: expected a string or number, got %s' % (key, type(value).__name__))


def quote_value(value):
    """Quote ``value`` so that Compose v2 reads back exactly ``value``.

    Single quotes are literal in Compose except for ``\\'``, so they carry
    any value without a single quote that does not end with a backslash.
    Everything else goes in double quotes with backslash, double quote and
    dollar escaped (``\\$`` is a literal dollar there, never interpolation).
    """
    validate_value('(value)', value)
    if "'" not in value and not value.endswith('\\'):
        return "'" + value + "'"
    escaped = value.replace('\\', '\\\\').replace('"', '\\"').replace('$', '\\$')
    return '"' + escaped + '"'


def render_line(key, value, exported=False):
    return '%s%s=%s' % ('export ' if exported else '', key, quote_value(value))


def generate_secret(kind, length, rng=None):
    """A new secret from a CSPRNG (``secrets.SystemRandom`` unless ``rng`` is given).

    ``length`` counts characters, except for ``base64`` where it counts the
    random bytes that are encoded (32 gives 44 characters).
    """
    rng = rng or _secrets.SystemRandom()
    if kind == 'base64':
        import base64
        data = bytes(rng.randrange(256) for dummy in range(length))
        return base64.b64encode(data).decode('ascii')
    alphabet = _ALPHABETS[kind]
    return ''.join(rng.choice(alphabet) for dummy in range(length))


def normalize_secret_specs(specs):
    """Validate the ``secrets`` option; return a list of (name, type, length)."""
    result = []
    seen = set()
    for spec in specs or []:
        name = spec.get('name')
        validate_key(name)
        if name in seen:
            raise EnvFileError('Error validating secret %s: it is listed twice in secrets' % name)
        seen.add(name)
        kind = spec.get('type') or 'token'
        if kind not in SECRET_TYPES:
            raise EnvFileError('Error validating secret %s: type must be one of %s, got %s' % (name, ', '.join(SECRET_TYPES), kind))
        length = spec.get('length')
        if length is None:
            length = DEFAULT_LENGTHS[kind]
        if not MIN_LENGTH <= length <= MAX_LENGTH:
            raise EnvFileError('Error validating secret %s: length must be between %d and %d, got %d' % (name, MIN_LENGTH, MAX_LENGTH, length))
        result.append((name, kind, length))
    return result


class EnvPlan:
    """What the file should become, and why (keys only, never values)."""

    def __init__(self):
        self.lines = []
        self.text = ''
        self.plain_keys = set()
        self.changed_keys = []
        self.generated_keys = []
        self.rotated_keys = []
        self.unmanaged_keys = []
        self.removed_keys = []
        # key -> note shown next to the mask in the diff
        self.notes = {}


def plan_env_file(existing_text, values=None, secret_values=None, secrets=None, rotate=None,
                  required=None, unmanaged='keep', generate=generate_secret):
    """Work out the new content of an env file.

    ``existing_text`` is the current content or None when there is no file.
    Everything is validated before anything is decided, and a problem raises
    EnvFileError with a message that names keys only.
    """
    values = values or {}
    secret_values = secret_values or {}
    rotate = list(rotate or [])
    required = list(required or [])
    if unmanaged not in ('keep', 'remove'):
        raise EnvFileError('Error validating option unmanaged: expected keep or remove, got %s' % unmanaged)

    # --- validate every input first -------------------------------------
    plain = {}
    for key, value in values.items():
        validate_key(key)
        plain[key] = to_text(key, value)
        validate_value(key, plain[key])
    provided = {}
    for key, value in secret_values.items():
        validate_key(key)
        provided[key] = to_text(key, value)
        validate_value(key, provided[key])
    specs = normalize_secret_specs(secrets)
    spec_names = [name for name, dummy, dummy2 in specs]

    for first, second, where in ((plain, provided, 'set in both values and secret_values'),
                                 (plain, spec_names, 'set in values and listed in secrets'),
                                 (provided, spec_names, 'set in secret_values and listed in secrets')):
        both = sorted(set(first) & set(second))
        if both:
            raise EnvFileError('Error validating keys %s: %s; a key has exactly one source' % (', '.join(both), where))
    not_generated = [key for key in rotate if key not in spec_names]
    if not_generated:
        raise EnvFileError('Error rotating secrets %s: only keys listed in secrets are generated, so only they can be rotated'
                           % ', '.join(not_generated))
    for key in required:
        validate_key(key)

    try:
        lines = parse_env(existing_text) if existing_text is not None else []
    except EnvFileError as exc:
        raise EnvFileError('Error parsing existing env file: %s' % exc)
    existing = env_values(lines)

    # --- decide every value ----------------------------------------------
    plan = EnvPlan()
    plan.plain_keys = set(plain)
    desired = {}
    order = list(plain) + list(provided) + spec_names
    desired.update(plain)
    desired.update(provided)
    kept = set()
    for name, kind, length in specs:
        old = existing.get(name)
        if name in rotate:
            desired[name] = generate(kind, length)
            plan.rotated_keys.append(name)
            plan.notes[name] = 'rotated'
        elif old is not None and (old.interpolated or old.value):
            # Generated by an earlier run, or written by hand: keep it as is.
            kept.add(name)
        else:
            desired[name] = generate(kind, length)
            plan.generated_keys.append(name)
            plan.notes[name] = 'generated'

    managed = set(order)
    plan.unmanaged_keys = [key for key in existing if key not in managed]

    final = {}
    for key in plan.unmanaged_keys:
        if unmanaged == 'keep':
            final[key] = existing[key]
    missing = []
    for key in required:
        if key in desired:
            empty = desired[key] == ''
        elif key in kept:
            empty = False
        elif key in final:
            empty = not (final[key].interpolated or final[key].value)
        else:
            empty = True
        if empty:
            missing.append(key)
    if missing:
        raise EnvFileError('Error validating env file: required keys missing or empty: %s' % ', '.join(missing))

    # --- build the new document ------------------------------------------
    last_index = {}
    for index, line in enumerate(lines):
        if line.kind == 'entry':
            last_index[line.key] = index
    new_lines = []
    if not lines or lines[0].raw != HEADER:
        new_lines.append(EnvLine('comment', HEADER))
    for index, line in enumerate(lines):
        if line.kind != 'entry':
            new_lines.append(line)
            continue
        key = line.key
        if key not in managed:
            if unmanaged == 'keep':
                new_lines.append(line)
            elif key not in plan.removed_keys:
                plan.removed_keys.append(key)
            continue
        if index != last_index[key]:
            # An earlier duplicate that Compose ignores: drop it.
            continue
        if key in kept:
            new_lines.append(line)
            continue
        value = desired[key]
        if line.value == value and not line.interpolated:
            new_lines.append(line)
            continue
        new_lines.append(EnvLine('entry', render_line(key, value, line.exported), key=key, value=value, exported=line.exported))
        plan.changed_keys.append(key)
        plan.notes.setdefault(key, 'changed')
    for key in order:
        if key not in existing:
            value = desired[key]
            new_lines.append(EnvLine('entry', render_line(key, value), key=key, value=value))
            plan.changed_keys.append(key)
            plan.notes.setdefault(key, 'added')
    for key in plan.removed_keys:
        plan.changed_keys.append(key)
    plan.lines = new_lines
    plan.text = render_env(new_lines)
    return plan


def render_env(lines):
    return ''.join(line.raw + '\n' for line in lines)


def mask_lines(lines, plain_keys, notes=None, unchanged_plain=None):
    """The text of ``lines`` with every value but plain ones masked.

    ``plain_keys`` are the keys of the ``values`` option. ``unchanged_plain``,
    when given, limits the plain keys shown to those (the "before" side shows
    a plain key only when it is not being replaced: the old value of a key
    may have been a secret before the key was declared plain).
    Commented-out assignments are masked too.
    """
    notes = notes or {}
    out = []
    for line in lines:
        if line.kind == 'entry':
            shown = line.key in plain_keys and (unchanged_plain is None or line.key in unchanged_plain)
            if shown:
                out.append(line.raw)
            else:
                text = '%s%s=%s' % ('export ' if line.exported else '', line.key, MASK)
                if line.key in notes:
                    text += ' (%s)' % notes[line.key]
                out.append(text)
        elif line.kind == 'comment':
            out.append(_COMMENTED_ASSIGNMENT_RE.sub(lambda m: m.group(1) + MASK, line.raw))
        else:
            out.append(line.raw)
    return ''.join(text + '\n' for text in out)


def diff_texts(existing_text, plan):
    """(before, after) texts for Ansible's diff, secrets masked."""
    if existing_text is None:
        before = ''
        old_lines = []
    else:
        old_lines = parse_env(existing_text)
        unchanged_plain = set(plan.plain_keys) - set(plan.changed_keys)
        before = mask_lines(old_lines, plan.plain_keys, unchanged_plain=unchanged_plain)
    after = mask_lines(plan.lines, plan.plain_keys, notes=dict((k, v) for k, v in plan.notes.items() if k in plan.changed_keys))
    return before, after
