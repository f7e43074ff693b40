# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import random
import re

import pytest

from ansible_collections.prodkit.stack.plugins.module_utils._env_file import (
    DEFAULT_LENGTHS,
    HEADER,
    MASK,
    SECRET_TYPES,
    EnvFileError,
    diff_texts,
    generate_secret,
    parse_env,
    plan_env_file,
    quote_value,
    render_line,
)

# Values that break naive quoting. Each one was also read back by
# `docker compose config` 2.26 (env_file and ${VAR} interpolation); the
# molecule scenario `modules` repeats that with `docker compose run`.
TRICKY_VALUES = [
    'plain',
    '',
    'a b  c',
    '  lead and trail  ',
    "it's",
    'say "hi"',
    'a #b#c',
    '#start',
    '$HOME ${HOME} $$ $',
    'back\\slash',
    'ends\\',
    'a=b==',
    "a'b\"c$d\\e#f=g h",
    "\\'",
    "it's ${NOT}",
    'a\tb',
    'päss€',
    "x'\\$y",
    'x"',
    "x'",
    '`cmd`',
    '\\\\n',
    "''",
    "'\\\\'",
    '0c0pkgb7!76c3*0^26g^hfyir1$m5urf_kvl&@)9)x8obfz9av',
]


def entries(text):
    return dict((line.key, line.value) for line in parse_env(text) if line.kind == 'entry')


def fixed_generator(prefix='gen'):
    counter = {'n': 0}

    def generate(kind, length):
        counter['n'] += 1
        return '%s-%s-%d-%d' % (prefix, kind, length, counter['n'])
    return generate


# --------------------------------------------------------------------------
# Quoting
# --------------------------------------------------------------------------

@pytest.mark.parametrize('value', TRICKY_VALUES)
def test_quote_round_trips_through_the_compose_parser(value):
    line = render_line('KEY', value)
    assert entries(line + '\n') == {'KEY': value}
    parsed = parse_env(line + '\n')[0]
    assert not parsed.interpolated


@pytest.mark.parametrize('value, expected', [
    ('plain', "'plain'"),
    ('', "''"),
    ('$HOME ${HOME}', "'$HOME ${HOME}'"),          # single quotes: no interpolation
    ('a #b', "'a #b'"),
    ('back\\slash', "'back\\slash'"),            # a backslash is literal inside single quotes
    ("it's", '"it\'s"'),                          # a single quote needs double quotes
    ('ends\\', '"ends\\\\"'),                     # so does a trailing backslash (\' would escape the quote)
    ("a'$b\"\\c", '"a\'\\$b\\"\\\\c"'),           # in double quotes: \$ \" \\ escaped
])
def test_quote_picks_the_literal_form(value, expected):
    assert quote_value(value) == expected


@pytest.mark.parametrize('value, what', [
    ('two\nlines', 'a newline'),
    ('cr\rhere', 'a carriage return'),
    ('nul\x00', 'a NUL character'),
])
def test_values_an_env_file_cannot_hold_are_rejected_without_echoing_them(value, what):
    with pytest.raises(EnvFileError) as exc:
        plan_env_file(None, secret_values={'DB_PASSWORD': value})
    message = str(exc.value)
    assert message == ('Error validating value of key DB_PASSWORD: it contains %s, which a Compose env file '
                       'cannot hold on one line' % what)
    assert value not in message


# --------------------------------------------------------------------------
# Parsing files written by hand (semantics measured with docker compose 2.26)
# --------------------------------------------------------------------------

@pytest.mark.parametrize('line, value, interpolated', [
    ("S1='a b#c$d\\e=f\"g'", 'a b#c$d\\e=f"g', False),
    ("S2='x\\'y'", "x'y", False),
    ("S3='back\\\\slash'", 'back\\\\slash', False),
    ("S4='${HOME}'", '${HOME}', False),
    ('D1="a\\"b\\\\c\\$d\'e#f=g"', 'a"b\\c$d\'e#f=g', False),
    ('D2="x$$y"', 'x$y', False),
    ('D3="tab\\tq\\qz"', 'tab\tq\\qz', False),
    ('D4="${NOPE}-x"', '${NOPE}-x', True),
    ('D5="dollar\\\\\\$end"', 'dollar\\$end', False),
    ('D6="lone $"', 'lone $', False),
    ('U1=plain value # comment', 'plain value', False),
    ('U2=a#b', 'a#b', False),
    ('U3=$$x\\y', '$x\\y', False),
    ('U4=  lead', 'lead', False),
    ('U5=$OTHER', '$OTHER', True),
    ('U6=a\t#tab is not a comment', 'a\t#tab is not a comment', False),
    ('U7=', '', False),
    ("export E1='exp'", 'exp', False),
    ('  K1 = spaced # c', 'spaced', False),
    ("K3='a' # trailing comment", 'a', False),
    ('K4="a" b', 'a', False),
])
def test_parse_reads_values_as_compose_does(line, value, interpolated):
    parsed = [item for item in parse_env(line + '\n') if item.kind == 'entry']
    assert len(parsed) == 1
    assert parsed[0].value == value
    assert parsed[0].interpolated is interpolated


def test_parse_keeps_comments_blanks_bare_keys_and_multiline_values():
    text = "# hand written\n\nexport A='1'\nBARE\nM='multi\nline'\n  # indented comment\n"
    lines = parse_env(text)
    assert [line.kind for line in lines] == ['comment', 'blank', 'entry', 'entry', 'entry', 'comment']
    assert lines[2].exported and lines[2].value == '1'
    assert lines[3].key == 'BARE' and lines[3].value is None
    assert lines[4].value == 'multi\nline' and lines[4].raw == "M='multi\nline'"
    assert ''.join(line.raw + '\n' for line in lines) == text


@pytest.mark.parametrize('text, message', [
    ("A=1\nthis is not an assignment\n", 'line 2 is not KEY=VALUE'),
    ("A='never closed\nB=2\n", 'line 1 opens a quoted value that is never closed'),
    ("A=1\n=secretvalue\n", 'line 2 is not KEY=VALUE'),
])
def test_parse_errors_name_the_line_not_its_content(text, message):
    with pytest.raises(EnvFileError) as exc:
        parse_env(text)
    assert str(exc.value) == message


def test_unreadable_existing_file_fails_the_plan_without_its_content():
    with pytest.raises(EnvFileError) as exc:
        plan_env_file('PASSWORD=ok\nhunter2 hunter2\n', values={'A': '1'})
    assert str(exc.value) == 'Error parsing existing env file: line 2 is not KEY=VALUE'


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

@pytest.mark.parametrize('kwargs, message', [
    (dict(values={'1BAD': 'x'}), "Error validating key '1BAD': a key must match ^[A-Za-z_][A-Za-z0-9_]*$"),
    (dict(values={'BAD-KEY': 'x'}), "Error validating key 'BAD-KEY': a key must match ^[A-Za-z_][A-Za-z0-9_]*$"),
    (dict(secret_values={'WITH SPACE': 's3cr3t'}), "Error validating key 'WITH SPACE': a key must match ^[A-Za-z_][A-Za-z0-9_]*$"),
    (dict(secrets=[{'name': 'a.b'}]), "Error validating key 'a.b': a key must match ^[A-Za-z_][A-Za-z0-9_]*$"),
    (dict(values={'A': '1', 'B': '2'}, secret_values={'B': 's3cr3t', 'A': 's3cr3t'}),
     'Error validating keys A, B: set in both values and secret_values; a key has exactly one source'),
    (dict(values={'A': '1'}, secrets=[{'name': 'A'}]),
     'Error validating keys A: set in values and listed in secrets; a key has exactly one source'),
    (dict(secret_values={'A': 's3cr3t'}, secrets=[{'name': 'A'}]),
     'Error validating keys A: set in secret_values and listed in secrets; a key has exactly one source'),
    (dict(secrets=[{'name': 'A'}], rotate=['A', 'B', 'C']),
     'Error rotating secrets B, C: only keys listed in secrets are generated, so only they can be rotated'),
    (dict(secrets=[{'name': 'A'}, {'name': 'A'}]), 'Error validating secret A: it is listed twice in secrets'),
    (dict(secrets=[{'name': 'A', 'type': 'uuid'}]),
     'Error validating secret A: type must be one of token, hex, password, django, base64, got uuid'),
    (dict(secrets=[{'name': 'A', 'length': 4}]), 'Error validating secret A: length must be between 8 and 4096, got 4'),
    (dict(values={'A': ['list']}), 'Error validating value of key A: expected a string or number, got list'),
    (dict(unmanaged='drop'), 'Error validating option unmanaged: expected keep or remove, got drop'),
])
def test_bad_input_is_refused_with_an_exact_message(kwargs, message):
    with pytest.raises(EnvFileError) as exc:
        plan_env_file(None, **kwargs)
    assert str(exc.value) == message
    assert 's3cr3t' not in str(exc.value)


@pytest.mark.parametrize('existing, kwargs, missing', [
    (None, dict(values={'A': ''}, required=['A', 'B', 'C']), 'A, B, C'),
    (None, dict(values={'A': 'x'}, secret_values={'B': ''}, required=['A', 'B']), 'B'),
    ("OLD=\nBARE\n", dict(values={'A': 'x'}, required=['OLD', 'BARE', 'A']), 'OLD, BARE'),
    ("OLD=1\n", dict(values={'A': 'x'}, unmanaged='remove', required=['OLD']), 'OLD'),
])
def test_required_names_every_missing_or_empty_key(existing, kwargs, missing):
    with pytest.raises(EnvFileError) as exc:
        plan_env_file(existing, **kwargs)
    assert str(exc.value) == 'Error validating env file: required keys missing or empty: %s' % missing


@pytest.mark.parametrize('existing, kwargs', [
    (None, dict(secrets=[{'name': 'TOKEN'}], required=['TOKEN'])),
    ("KEPT=1\n", dict(values={'A': 'x'}, required=['KEPT', 'A'])),
    ("HAND=${OTHER}\n", dict(secrets=[{'name': 'HAND'}], required=['HAND'])),
])
def test_required_is_satisfied_by_generated_kept_and_unmanaged_values(existing, kwargs):
    plan_env_file(existing, generate=fixed_generator(), **kwargs)


@pytest.mark.parametrize('value, text', [(8000, '8000'), (True, 'true'), (False, 'false'), (None, ''), (1.5, '1.5')])
def test_yaml_scalars_are_written_as_text(value, text):
    plan = plan_env_file(None, values={'A': value})
    assert entries(plan.text) == {'A': text}


# --------------------------------------------------------------------------
# Generated secrets
# --------------------------------------------------------------------------

@pytest.mark.parametrize('kind, pattern', [
    ('token', r'^[A-Za-z0-9_-]{32}$'),
    ('hex', r'^[0-9a-f]{32}$'),
    ('password', r'^[A-Za-z0-9]{32}$'),
    ('django', r'^[a-z0-9!@#$%^&*(\-_=+)]{50}$'),
])
def test_generated_secrets_have_the_type_alphabet_and_length(kind, pattern):
    value = generate_secret(kind, DEFAULT_LENGTHS[kind])
    assert re.match(pattern, value)


@pytest.mark.parametrize('length', [8, 32, 33, 64])
def test_base64_length_counts_random_bytes(length):
    value = generate_secret('base64', length)
    assert len(base64.b64decode(value)) == length


@pytest.mark.parametrize('kind', SECRET_TYPES)
def test_generation_draws_from_the_given_random_source(kind):
    assert generate_secret(kind, 40, random.Random(7)) == generate_secret(kind, 40, random.Random(7))
    # The default source is the system CSPRNG: two draws differ.
    assert generate_secret(kind, 40) != generate_secret(kind, 40)


# --------------------------------------------------------------------------
# Planning: keep, rotate, unmanaged, header, order
# --------------------------------------------------------------------------

SPECS = [{'name': 'TOKEN', 'type': 'token'}, {'name': 'DJANGO_SECRET_KEY', 'type': 'django'}, {'name': 'HEX', 'type': 'hex', 'length': 16}]


def test_first_run_generates_every_secret_then_keeps_them():
    first = plan_env_file(None, values={'A': '1'}, secret_values={'P': 'pw'}, secrets=SPECS, generate=fixed_generator())
    assert first.text.startswith(HEADER + '\n')
    assert first.generated_keys == ['TOKEN', 'DJANGO_SECRET_KEY', 'HEX']
    assert first.changed_keys == ['A', 'P', 'TOKEN', 'DJANGO_SECRET_KEY', 'HEX']
    assert entries(first.text)['HEX'] == 'gen-hex-16-3'

    def must_not_generate(kind, length):
        raise AssertionError('generated again')
    second = plan_env_file(first.text, values={'A': '1'}, secret_values={'P': 'pw'}, secrets=SPECS, generate=must_not_generate)
    assert second.text == first.text
    assert (second.changed_keys, second.generated_keys, second.rotated_keys) == ([], [], [])


def test_rotate_regenerates_only_the_named_secret():
    first = plan_env_file(None, secrets=SPECS, generate=fixed_generator('one'))
    rotated = plan_env_file(first.text, secrets=SPECS, rotate=['DJANGO_SECRET_KEY'], generate=fixed_generator('two'))
    before, after = entries(first.text), entries(rotated.text)
    assert rotated.rotated_keys == ['DJANGO_SECRET_KEY'] and rotated.changed_keys == ['DJANGO_SECRET_KEY']
    assert rotated.generated_keys == []
    assert after['DJANGO_SECRET_KEY'] != before['DJANGO_SECRET_KEY']
    assert dict((k, v) for k, v in after.items() if k != 'DJANGO_SECRET_KEY') == \
        dict((k, v) for k, v in before.items() if k != 'DJANGO_SECRET_KEY')


@pytest.mark.parametrize('existing', [
    "TOKEN=handwritten\n",
    "export TOKEN='hand written'\n",
    'TOKEN="${FROM_ELSEWHERE}"\n',
])
def test_a_secret_written_by_hand_is_kept_verbatim(existing):
    plan = plan_env_file(existing, secrets=[{'name': 'TOKEN'}], generate=fixed_generator())
    assert plan.generated_keys == [] and plan.changed_keys == []
    assert plan.text == HEADER + '\n' + existing


@pytest.mark.parametrize('existing', ["TOKEN=\n", "TOKEN=''\n", "TOKEN\n"])
def test_an_empty_secret_in_the_file_is_generated(existing):
    plan = plan_env_file(existing, secrets=[{'name': 'TOKEN'}], generate=fixed_generator())
    assert plan.generated_keys == ['TOKEN']
    assert entries(plan.text) == {'TOKEN': 'gen-token-32-1'}


HAND_WRITTEN = """# Our app settings
# (edited by hand)

export DEBUG=false
LEGACY_FLAG=1 # still read by the worker
PORT=8000
PORT=8001
API_KEY='abc'
"""


@pytest.mark.parametrize('unmanaged, expected', [
    ('keep', HEADER + """
# Our app settings
# (edited by hand)

export DEBUG='true'
LEGACY_FLAG=1 # still read by the worker
PORT=8001
API_KEY='abc'
NEW='n'
"""),
    ('remove', HEADER + """
# Our app settings
# (edited by hand)

export DEBUG='true'
PORT=8001
NEW='n'
"""),
])
def test_hand_written_file_keeps_comments_order_and_unmanaged_keys(unmanaged, expected):
    plan = plan_env_file(HAND_WRITTEN, values={'DEBUG': True, 'PORT': 8001, 'NEW': 'n'}, unmanaged=unmanaged)
    assert plan.text == expected
    assert plan.unmanaged_keys == ['LEGACY_FLAG', 'API_KEY']
    assert plan.changed_keys == ['DEBUG', 'NEW'] + (['LEGACY_FLAG', 'API_KEY'] if unmanaged == 'remove' else [])
    # And the result is stable.
    again = plan_env_file(plan.text, values={'DEBUG': True, 'PORT': 8001, 'NEW': 'n'}, unmanaged=unmanaged)
    assert again.text == plan.text and again.changed_keys == []


def test_header_is_not_duplicated_and_a_same_value_in_another_quoting_is_not_rewritten():
    existing = HEADER + '\nA="same"\nB=same\n'
    plan = plan_env_file(existing, values={'A': 'same', 'B': 'same'})
    assert plan.text == existing and plan.changed_keys == []


def test_interpolated_value_of_a_managed_key_is_rewritten_literally():
    plan = plan_env_file('A=${B}\n', values={'A': '${B}'})
    assert plan.changed_keys == ['A']
    assert entries(plan.text)['A'] == '${B}' and "A='${B}'" in plan.text


# --------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------

SECRET = "s3cr3t'$\\#="
PROVIDED = 'vault-provided-Pa55'


def test_diff_masks_every_secret_and_shows_plain_values():
    generate = fixed_generator('generated-secret')
    first = plan_env_file(None, values={'PLAIN': 'visible value'}, secret_values={'PROVIDED': PROVIDED, 'TRICKY': SECRET},
                          secrets=SPECS, generate=generate)
    before, after = diff_texts(None, first)
    assert before == ''
    assert after == (HEADER + '\n'
                     "PLAIN='visible value'\n"
                     'PROVIDED=%s (added)\n'
                     'TRICKY=%s (added)\n'
                     'TOKEN=%s (generated)\n'
                     'DJANGO_SECRET_KEY=%s (generated)\n'
                     'HEX=%s (generated)\n') % ((MASK,) * 5)

    rotated = plan_env_file(first.text, values={'PLAIN': 'new value'}, secret_values={'PROVIDED': 'changed-' + PROVIDED, 'TRICKY': SECRET},
                            secrets=SPECS, rotate=['TOKEN'], generate=generate)
    before, after = diff_texts(first.text, rotated)
    assert 'PROVIDED=%s\n' % MASK in before and 'PROVIDED=%s (changed)\n' % MASK in after
    assert 'TOKEN=%s\n' % MASK in before and 'TOKEN=%s (rotated)\n' % MASK in after
    # A plain value that changes: the new one shows, the old one is masked
    # (it may have been a secret before the key was declared plain).
    assert 'PLAIN=%s\n' % MASK in before and "PLAIN='new value'\n" in after
    everything = before + after
    for secret in list(entries(first.text).values()) + list(entries(rotated.text).values()):
        if secret not in ('visible value', 'new value'):
            assert secret not in everything
            assert quote_value(secret) not in everything


def test_diff_masks_removed_unmanaged_and_commented_out_values():
    existing = "# OLD_PASSWORD=hunter2\nUNMANAGED=topsecret\nA='1'\n"
    plan = plan_env_file(existing, values={'A': '1'}, unmanaged='remove')
    before, after = diff_texts(existing, plan)
    assert before == '# OLD_PASSWORD=%s\nUNMANAGED=%s\nA=\'1\'\n' % (MASK, MASK)
    assert after == HEADER + '\n# OLD_PASSWORD=%s\nA=\'1\'\n' % MASK
    assert 'hunter2' not in before + after and 'topsecret' not in before + after
    assert plan.removed_keys == ['UNMANAGED'] and plan.changed_keys == ['UNMANAGED']


def test_reprs_never_show_values():
    line = parse_env('PASSWORD=hunter2\n')[0]
    assert 'hunter2' not in repr(line)
