"""The certificates probe: TLS handshakes from the console, and PEM files on the host.

For every ``tls`` entry the probe does a real handshake with SNI (in the
console-checks worker, :mod:`core.probes.workers`), first with
a verifying context (the entry's ``ca_file``, else the system's trust
store) so verification errors are known, and, when that fails, once more
with verification off so subject, issuer, names and expiry are still
shown.  Problems are data in :attr:`CertInfo.error`, never exceptions:

* ``"expired"``, ``"not yet valid"``, ``"hostname mismatch"``,
  ``"self-signed / untrusted chain"`` for verification failures
  (other verification failures carry OpenSSL's message);
* ``"unreachable: <why>"`` when no handshake happened (then ``subject`` is
  empty and ``not_after``/``days_left`` are 0: nothing is known).

Certificate files (e.g. Let's Encrypt ``live/*/fullchain.pem``; shell globs
are expanded on the host) are read with one command over SSH; the first
certificate of each file is parsed; ``error`` is ``"expired"``,
``"no such file"``, ``"permission denied"`` or ``"no PEM certificate"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from core.config import TlsEndpointConfig
from core.hosts.base import Host
from core.probes.base import (
    command_failure,
    failed,
    host_down_reason,
    host_is_up,
    ok,
    settled,
)
from core.probes.workers import CHECK_SECONDS, ask, tls_request
from core.state import CertInfo, ProbeResult, ProbeStatus
from core.timeouts import wait_for

EXPIRED = "expired"
NOT_YET_VALID = "not yet valid"
HOSTNAME_MISMATCH = "hostname mismatch"
UNTRUSTED = "self-signed / untrusted chain"
UNREACHABLE = "unreachable"

_VERIFY_CODES = {
    9: NOT_YET_VALID,
    10: EXPIRED,
    62: HOSTNAME_MISMATCH,
    64: HOSTNAME_MISMATCH,
    2: UNTRUSTED,
    18: UNTRUSTED,
    19: UNTRUSTED,
    20: UNTRUSTED,
    21: UNTRUSTED,
    24: UNTRUSTED,
    27: UNTRUSTED,
}

FILE_MARK = "@@warroom-file@@"
MISSING_MARK = "@@warroom-missing@@"
DENIED_MARK = "@@warroom-denied@@"
PEM_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s+.*?-----END CERTIFICATE-----", re.DOTALL
)


def verify_error(exc: ssl.SSLCertVerificationError) -> str:
    """The verification failure as one of the canonical error strings (or OpenSSL's text)."""
    canonical = _VERIFY_CODES.get(getattr(exc, "verify_code", -1) or -1)
    if canonical:
        return canonical
    message = getattr(exc, "verify_message", "") or str(exc)
    lower = message.lower()
    if "expired" in lower:
        return EXPIRED
    if "hostname mismatch" in lower or "ip address mismatch" in lower:
        return HOSTNAME_MISMATCH
    if "self-signed" in lower or "self signed" in lower or "issuer certificate" in lower:
        return UNTRUSTED
    return message


def _name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common:
        return str(common[0].value)
    return name.rfc4514_string()


def cert_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The DNS names and IP addresses a certificate is valid for (the CN if it has no SAN)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return (str(common[0].value),) if common else ()
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    return tuple(dns + ips)


def cert_info(
    cert: x509.Certificate, source: str, error: str = "", now: float | None = None
) -> CertInfo:
    """A parsed certificate as CertInfo; an expired one gets ``error="expired"`` if none given."""
    now = time.time() if now is None else now
    not_after = cert.not_valid_after_utc.timestamp()
    days_left = (not_after - now) / 86400.0
    if not error and days_left < 0:
        error = EXPIRED
    elif not error and cert.not_valid_before_utc.timestamp() > now:
        error = NOT_YET_VALID
    return CertInfo(
        source=source,
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        not_after=not_after,
        days_left=days_left,
        names=cert_names(cert),
        error=error,
    )


def unreachable(source: str, why: str) -> CertInfo:
    """A CertInfo for an endpoint or file where no certificate could be seen."""
    return CertInfo(source, "", "", 0.0, 0.0, (), f"{UNREACHABLE}: {why}")


def tls_source(entry: TlsEndpointConfig) -> str:
    """``address:port (sni)``: how the UI names a TLS entry."""
    sni = entry.server_name or entry.address
    return f"{entry.address}:{entry.port} ({sni})"


async def _peer_der(
    entry: TlsEndpointConfig, context: ssl.SSLContext, timeout: float
) -> bytes:
    sni = entry.server_name or entry.address
    _reader, writer = await wait_for(
        asyncio.open_connection(
            entry.address,
            entry.port,
            ssl=context,
            server_hostname=sni,
            ssl_handshake_timeout=timeout,
        ),
        timeout,
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await wait_for(writer.wait_closed(), 1)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return bytes(der)


_contexts: dict[str, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def verifying_context(ca_file: str = "") -> ssl.SSLContext:
    """A context that checks the chain (against ``ca_file`` if given) and the host name.

    Cached: loading a trust store costs tens of milliseconds, and a context
    is safe to share between connections.  Made once per ``ca_file`` even
    when two threads ask at the same time: the second waits for the first's.
    """
    with _contexts_lock:
        context = _contexts.get(ca_file)
        if context is None:
            context = ssl.create_default_context(cafile=ca_file or None)
            _contexts[ca_file] = context
        return context


def default_tls_context() -> ssl.SSLContext:
    """The system trust store, loaded once per process (shared by the HTTP checks)."""
    return verifying_context("")


def inspecting_context() -> ssl.SSLContext:
    """A context that accepts any certificate, to see what the server presents."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _connect_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


async def check_tls(entry: TlsEndpointConfig, timeout: float = CHECK_SECONDS) -> CertInfo:
    """Handshake with ``entry`` and describe its certificate; never raises."""
    source = tls_source(entry)
    try:
        verifier = verifying_context(entry.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return unreachable(source, f"cannot load ca_file {entry.ca_file}: {_connect_error(exc)}")
    error = ""
    try:
        der = await _peer_der(entry, verifier, timeout)
    except ssl.SSLCertVerificationError as exc:
        error = verify_error(exc)
        try:
            der = await _peer_der(entry, inspecting_context(), timeout)
        except Exception as again:
            return unreachable(source, _connect_error(again))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return unreachable(source, _connect_error(exc))
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        return unreachable(source, f"unreadable certificate: {exc}")
    return cert_info(cert, source, error)


async def tls_from_console(entry: TlsEndpointConfig, timeout: float = CHECK_SECONDS) -> CertInfo:
    """:func:`check_tls`, made in the console-checks worker.

    The handshake's problems are data; a ProbeError here is the worker's
    own and fails the probe (it must not read as an unreachable, expired
    certificate).
    """
    return await ask(tls_request(entry, timeout), _cert)


def _cert(answer: dict[str, Any]) -> CertInfo:
    """The worker's answer to a TLS request as CertInfo."""
    fields = dict(answer["cert"])
    fields["names"] = tuple(fields.get("names") or ())
    return CertInfo(**fields)


def glob_quote(pattern: str) -> str:
    """Quote ``pattern`` for the shell but leave ``*``, ``?`` and ``[...]`` active."""
    out = []
    for part in re.split(r"([*?]|\[[A-Za-z0-9!^._-]+\])", pattern):
        if not part:
            continue
        out.append(part if part in ("*", "?") or part.startswith("[") else shlex.quote(part))
    return "".join(out)


def files_command(paths: Sequence[str]) -> str:
    """One shell command printing every file, each after a marker line."""
    words = " ".join(glob_quote(p) if re.search(r"[*?\[]", p) else shlex.quote(p) for p in paths)
    return (
        f"for f in {words}; do printf '%s %s\\n' {FILE_MARK} \"$f\"; "
        f'if [ ! -e "$f" ]; then echo {MISSING_MARK}; '
        f'elif [ ! -r "$f" ]; then echo {DENIED_MARK}; '
        f'else cat -- "$f"; echo; fi; done'
    )


def parse_files_output(text: str, now: float | None = None) -> list[CertInfo]:
    """The output of :func:`files_command` as one CertInfo per file."""
    out: list[CertInfo] = []
    chunks = text.split(FILE_MARK + " ")
    for chunk in chunks[1:]:
        path, _, body = chunk.partition("\n")
        stripped = body.strip()
        if stripped == MISSING_MARK:
            out.append(CertInfo(path, "", "", 0.0, 0.0, (), "no such file"))
            continue
        if stripped == DENIED_MARK:
            out.append(CertInfo(path, "", "", 0.0, 0.0, (), "permission denied"))
            continue
        match = PEM_RE.search(body.encode("utf-8", "replace"))
        if match is None:
            out.append(CertInfo(path, "", "", 0.0, 0.0, (), "no PEM certificate"))
            continue
        try:
            cert = x509.load_pem_x509_certificate(match.group(0))
        except ValueError:
            out.append(CertInfo(path, "", "", 0.0, 0.0, (), "no PEM certificate"))
            continue
        out.append(cert_info(cert, path, now=now))
    return out


class CertsProbe:
    """TLS endpoints' certificates (from the console) and certificate files (on the host)."""

    name = "certs"

    def __init__(
        self,
        host: Host,
        tls: Sequence[TlsEndpointConfig] = (),
        files: Sequence[str] = (),
        timeout: float = CHECK_SECONDS,
    ) -> None:
        self.host = host
        self.tls = tuple(tls)
        self.files = tuple(files)
        self.timeout = timeout

    async def collect(self) -> ProbeResult[tuple[CertInfo, ...]]:
        """Every configured certificate; never raises.

        TLS endpoints are checked from the console even while the host's
        link is down; then the result is HOST_DOWN (if files are configured)
        and its data holds the TLS results only.
        """
        handshakes = asyncio.gather(
            *(tls_from_console(entry, self.timeout) for entry in self.tls),
            return_exceptions=True)
        if not self.files:
            seen, error = settled(await handshakes)
        elif not host_is_up(self.host):
            seen, _ = settled(await handshakes)
            return failed(self.name, ProbeStatus.HOST_DOWN, host_down_reason(self.host),
                          tuple(seen))
        else:
            command = self.host.run(files_command(self.files), timeout=self.timeout)
            gathered, result = await asyncio.gather(handshakes, command)
            seen, error = settled(gathered)
            if result.error or (result.exit_status != 0 and FILE_MARK not in result.stdout):
                failure = command_failure(result, self.host)
                return failed(self.name, failure.status, failure.reason, tuple(seen))
            seen += parse_files_output(result.stdout)
        if error is not None:  # the console-side handshakes could not be made
            return failed(self.name, error.status, error.reason, tuple(seen))
        return ok(self.name, tuple(seen))

    async def close(self) -> None:
        """Nothing to close."""
