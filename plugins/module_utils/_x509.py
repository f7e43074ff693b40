# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fields of an X.509 certificate that the TLS check reports (private to prodkit.stack).

:func:`parse_certificate` returns ``not_after``, ``not_before`` (aware UTC
datetimes), ``issuer``, ``subject`` (``CN=x,O=y``, attributes in the order
the certificate holds them) and ``names`` (the DNS names and IP addresses
of the subjectAltName, in order).

It decodes with ``cryptography`` where it is installed (community.crypto's
requirement; Debian's ``python3-cryptography``). A host without it (a
minimal Debian image, such as the test hosts') gets the same fields from
the small DER reader :func:`parse_certificate_der`, which the unit tests
hold to the ``cryptography`` result on RSA, ECDSA and SAN certificates.
"""

from __future__ import annotations

import datetime
import socket

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

# Short names of the attributes in issuer and subject; others show as dotted OIDs.
_OID_NAMES = {
    '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O',
    '2.5.4.11': 'OU', '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'DC',
}
_OID_SAN = '2.5.29.17'


class CertificateError(Exception):
    pass


def parse_certificate(der):
    """Decode the reported fields of a DER certificate; raise CertificateError when it cannot."""
    if HAS_CRYPTOGRAPHY:
        return parse_certificate_cryptography(der)
    return parse_certificate_der(der)


# --------------------------------------------------------------------------
# With cryptography
# --------------------------------------------------------------------------

def _utc(cert, name):
    """``not_valid_after_utc`` (cryptography 42+) or the naive UTC ``not_valid_after`` of older ones."""
    value = getattr(cert, name + '_utc', None)
    if value is None:
        value = getattr(cert, name).replace(tzinfo=datetime.timezone.utc)
    return value


def _x509_name(name):
    """``CN=x,O=y`` in the certificate's order, as the DER reader writes it (not RFC 4514's reversed order)."""
    parts = []
    for rdn in name.rdns:
        for attribute in rdn:
            oid = attribute.oid.dotted_string
            value = attribute.value
            if isinstance(value, bytes):
                value = value.hex()
            parts.append('%s=%s' % (_OID_NAMES.get(oid, oid), value))
    return ','.join(parts)


def parse_certificate_cryptography(der):
    """Decode with ``cryptography``."""
    try:
        cert = x509.load_der_x509_certificate(der)
        # Extensions are decoded on first use: a bad one raises here.
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = []
    except ValueError as exc:
        raise CertificateError('cannot decode certificate: %s' % exc)
    names = []
    for entry in san:
        if isinstance(entry, x509.DNSName):
            names.append(entry.value)
        elif isinstance(entry, x509.IPAddress):
            names.append(str(entry.value))
    return {'not_after': _utc(cert, 'not_valid_after'), 'not_before': _utc(cert, 'not_valid_before'),
            'issuer': _x509_name(cert.issuer), 'subject': _x509_name(cert.subject), 'names': names}


# --------------------------------------------------------------------------
# Fallback: a small DER reader
# --------------------------------------------------------------------------

def _der_read(data, offset):
    """Return (tag, content_start, content_end) of the DER element at ``offset``."""
    if offset + 2 > len(data):
        raise CertificateError('truncated DER')
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise CertificateError('bad DER length')
        length = int.from_bytes(data[start:start + count], 'big')
        start += count
    end = start + length
    if end > len(data):
        raise CertificateError('truncated DER')
    return tag, start, end


def _der_children(data, start, end):
    children = []
    offset = start
    while offset < end:
        tag, cstart, cend = _der_read(data, offset)
        children.append((tag, cstart, cend))
        offset = cend
    return children


def _oid(data):
    first = data[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in data[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return '.'.join(str(part) for part in parts)


def _der_time(tag, raw):
    text = raw.decode('ascii')
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = ('19' if year >= 50 else '20') + text
    if not text.endswith('Z'):
        raise CertificateError('time is not UTC')
    return datetime.datetime.strptime(text[:14], '%Y%m%d%H%M%S').replace(tzinfo=datetime.timezone.utc)


def _name(data, start, end):
    parts = []
    for dummy, sstart, send in _der_children(data, start, end):  # SET
        for dummy2, astart, aend in _der_children(data, sstart, send):  # SEQUENCE
            oid_el, value_el = _der_children(data, astart, aend)[:2]
            oid = _oid(data[oid_el[1]:oid_el[2]])
            value = data[value_el[1]:value_el[2]]
            try:
                text = value.decode('utf-16-be') if value_el[0] == 0x1E else value.decode('utf-8')
            except UnicodeDecodeError:
                text = value.hex()
            parts.append('%s=%s' % (_OID_NAMES.get(oid, oid), text))
    return ','.join(parts)


def parse_certificate_der(der):
    """Fallback without ``cryptography``: decode ``not_after``, ``not_before``, ``issuer``, ``subject`` and ``names`` (SAN) of a DER certificate."""
    try:
        dummy, cstart, cend = _der_read(der, 0)
        tbs_tag, tstart, tend = _der_children(der, cstart, cend)[0]
        fields = _der_children(der, tstart, tend)
        if fields and fields[0][0] == 0xA0:  # [0] version
            fields = fields[1:]
        # serial, signature algorithm, issuer, validity, subject, public key, [1], [2], [3]
        issuer = _name(der, fields[2][1], fields[2][2])
        validity = _der_children(der, fields[3][1], fields[3][2])
        not_before = _der_time(validity[0][0], der[validity[0][1]:validity[0][2]])
        not_after = _der_time(validity[1][0], der[validity[1][1]:validity[1][2]])
        subject = _name(der, fields[4][1], fields[4][2])
        names = []
        for tag, estart, eend in fields[6:]:
            if tag != 0xA3:
                continue
            seq = _der_children(der, estart, eend)[0]
            for dummy2, xstart, xend in _der_children(der, seq[1], seq[2]):
                parts = _der_children(der, xstart, xend)
                if _oid(der[parts[0][1]:parts[0][2]]) != _OID_SAN:
                    continue
                octets = parts[-1]
                san_seq = _der_children(der, octets[1], octets[2])[0]
                for gtag, gstart, gend in _der_children(der, san_seq[1], san_seq[2]):
                    raw = der[gstart:gend]
                    if gtag == 0x82:
                        names.append(raw.decode('ascii'))
                    elif gtag == 0x87 and len(raw) == 4:
                        names.append(socket.inet_ntop(socket.AF_INET, raw))
                    elif gtag == 0x87 and len(raw) == 16:
                        names.append(socket.inet_ntop(socket.AF_INET6, raw))
    except (IndexError, ValueError) as exc:
        raise CertificateError('cannot decode certificate: %s' % exc)
    return {'not_after': not_after, 'not_before': not_before, 'issuer': issuer, 'subject': subject, 'names': names}
