# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The two ways of reading a certificate agree, on real certificates of each kind.

Certificates are made in tmp_path by ``cryptography`` and by the
``openssl`` command line (a second, independent encoder); both decoders
must return the same notAfter, notBefore, subject, issuer and SANs, and
those must be what the certificate was made with.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess

import pytest

from ansible_collections.prodkit.stack.plugins.module_utils import _x509
from ansible_collections.prodkit.stack.plugins.module_utils._x509 import (
    CertificateError,
    parse_certificate,
    parse_certificate_cryptography,
    parse_certificate_der,
)

pytestmark = pytest.mark.skipif(not _x509.HAS_CRYPTOGRAPHY, reason='the comparison needs cryptography')

if _x509.HAS_CRYPTOGRAPHY:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

UTC = datetime.timezone.utc


def _name(pairs):
    oids = {'CN': NameOID.COMMON_NAME, 'O': NameOID.ORGANIZATION_NAME, 'C': NameOID.COUNTRY_NAME,
            'OU': NameOID.ORGANIZATIONAL_UNIT_NAME}
    return x509.Name([x509.NameAttribute(oids[key], value) for key, value in pairs])


def made_by_cryptography(tmp_path, kind, days, dns=(), ips=(), subject=(('CN', 'app.example.com'),), issuer=None):
    """(DER, what it was made with) for a certificate signed by a key of ``kind`` (rsa or ec)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == 'rsa' else ec.generate_private_key(ec.SECP384R1())
    not_before = datetime.datetime.now(UTC).replace(microsecond=0) - datetime.timedelta(minutes=5)
    not_after = not_before + datetime.timedelta(days=days)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer or subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after))
    san = [x509.DNSName(name) for name in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    (tmp_path / ('%s.der' % kind)).write_bytes(der)
    return der, {'not_after': not_after, 'not_before': not_before, 'names': list(dns) + list(ips),
                 'subject': ','.join('%s=%s' % pair for pair in subject),
                 'issuer': ','.join('%s=%s' % pair for pair in (issuer or subject))}


def made_by_openssl(tmp_path, key_args, subject, san, days):
    """DER of a self-signed certificate that the openssl command line makes."""
    if not shutil.which('openssl'):
        pytest.skip('openssl is not installed')
    key, pem, der = tmp_path / 'key.pem', tmp_path / 'cert.pem', tmp_path / 'cert.der'
    subprocess.run(['openssl', 'req', '-x509', '-nodes', '-newkey'] + key_args
                   + ['-keyout', str(key), '-out', str(pem), '-days', str(days), '-subj', subject,
                      '-addext', 'subjectAltName=' + san], check=True, capture_output=True)
    subprocess.run(['openssl', 'x509', '-in', str(pem), '-outform', 'DER', '-out', str(der)], check=True, capture_output=True)
    return der.read_bytes()


def both(der):
    by_library = parse_certificate_cryptography(der)
    by_reader = parse_certificate_der(der)
    assert by_reader == by_library
    return by_library


@pytest.mark.parametrize('kind, days, dns, ips, subject, issuer', [
    # RSA, one DNS name, an issuer other than the subject
    ('rsa', 30, ['app.example.com'], [], [('CN', 'app.example.com')], [('C', 'US'), ('O', "Let's Encrypt"), ('CN', 'R11')]),
    # ECDSA (P-384), no SAN at all
    ('ec', 90, [], [], [('CN', 'ecdsa.example.com'), ('O', 'prodkit')], None),
    # SAN with DNS names, IPv4 and IPv6 addresses, in that order
    ('ec', 400, ['app.example.com', 'www.example.com'], ['127.0.0.1', '10.1.2.3', '::1', '2001:db8::42'],
     [('CN', 'app.example.com'), ('OU', 'ops')], [('CN', 'prodkit test CA')]),
    # notAfter after 2049: GeneralizedTime instead of UTCTime
    ('rsa', 365 * 40, ['far.example.com'], ['192.0.2.1'], [('CN', 'far.example.com')], None),
])
def test_cryptography_certificates(tmp_path, kind, days, dns, ips, subject, issuer):
    der, made = made_by_cryptography(tmp_path, kind, days, dns, ips, subject, issuer)
    assert both(der) == made


@pytest.mark.parametrize('key_args', [['rsa:2048'], ['ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']], ids=['rsa', 'ecdsa'])
def test_openssl_certificates(tmp_path, key_args):
    der = made_by_openssl(tmp_path, key_args, '/C=DE/ST=Berlin/L=Berlin/O=prodkit/OU=ops/CN=app.example.com/emailAddress=ops@example.com',
                          'DNS:app.example.com,DNS:*.example.com,IP:10.0.0.1,IP:2001:db8::1', 30)
    info = both(der)
    subject = 'C=DE,ST=Berlin,L=Berlin,O=prodkit,OU=ops,CN=app.example.com,emailAddress=ops@example.com'
    assert info['subject'] == subject and info['issuer'] == subject
    assert info['names'] == ['app.example.com', '*.example.com', '10.0.0.1', '2001:db8::1']
    assert (info['not_after'] - info['not_before']) == datetime.timedelta(days=30)
    assert info['not_after'].tzinfo is not None


def test_the_library_is_used_where_it_is_installed(tmp_path, monkeypatch):
    der = made_by_cryptography(tmp_path, 'ec', 10, ['a.example.com'])[0]
    used = []
    monkeypatch.setattr(_x509, 'parse_certificate_cryptography', lambda d: used.append('cryptography') or {})
    monkeypatch.setattr(_x509, 'parse_certificate_der', lambda d: used.append('der') or {})
    parse_certificate(der)
    monkeypatch.setattr(_x509, 'HAS_CRYPTOGRAPHY', False)
    parse_certificate(der)
    assert used == ['cryptography', 'der']


@pytest.mark.parametrize('decode', [parse_certificate_cryptography, parse_certificate_der], ids=['cryptography', 'der'])
@pytest.mark.parametrize('der', [b'', b'\x30\x03\x02\x01', b'\x30\x82\xff\xff' + b'\x00' * 8, b'not a certificate'])
def test_garbage_is_a_certificate_error(decode, der):
    with pytest.raises(CertificateError) as info:
        decode(der)
    assert str(info.value).startswith(('cannot decode certificate', 'truncated DER', 'bad DER length'))
