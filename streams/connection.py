"""Where Kafka is and how to authenticate to it: an explicitly configured cluster wins; otherwise the local broker.

The address travels through the code as a string (``bootstrap``); :class:`KafkaEndpoint` is that string carrying
the security settings with it, so every raw aiokafka client built from it with :func:`client_options` connects the
same way as the FastStream broker does. Its repr is the address alone: credentials never reach a log line.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from configs.settings import Secret
from deploy.local_kafka import LocalKafkaSettings
from streams.settings import KafkaSettings


class KafkaSecurityError(ValueError):
    """The Kafka security settings do not fit together; the message names the setting to change."""


class KafkaLoginError(ConnectionError):
    """The broker answered but refused this client's credentials or TLS handshake (one line, no secret in it)."""


class KafkaEndpoint(str):
    """A bootstrap address that also knows how to authenticate (the security settings of ``kafka``)."""

    security: KafkaSettings | None

    def __new__(cls, address: str, security: KafkaSettings | None = None) -> KafkaEndpoint:
        endpoint = super().__new__(cls, address)
        endpoint.security = security
        return endpoint


def bootstrap_servers(kafka: KafkaSettings, local: LocalKafkaSettings) -> KafkaEndpoint:
    return KafkaEndpoint(kafka.bootstrap_servers or local.bootstrap_servers, kafka)


def uses_local_broker(kafka: KafkaSettings) -> bool:
    return not kafka.bootstrap_servers


def replication_factor(kafka: KafkaSettings, local: LocalKafkaSettings) -> int:
    """Topics on the local cluster get one replica per node (at most 3), unless the settings ask for more."""
    return max(kafka.replication_factor, min(local.nodes, 3)) if uses_local_broker(kafka) else kafka.replication_factor


def client_options(bootstrap: str) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (consumer, producer, admin): the address and its security."""
    settings = bootstrap.security if isinstance(bootstrap, KafkaEndpoint) else None
    # A list: aiokafka's admin client does not split "host:port,host:port" itself.
    addresses = [address.strip() for address in str(bootstrap).split(",")]
    return {"bootstrap_servers": addresses, **(security_options(settings) if settings else {})}


def security_options(settings: KafkaSettings) -> dict[str, Any]:
    """The aiokafka form of the ``kafka`` section's security settings (empty for PLAINTEXT)."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL_"):
        username, password = _credentials(settings)
        options |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": username,
            "sasl_plain_password": password.reveal(),
        }
    return options


def faststream_security(settings: KafkaSettings) -> BaseSecurity | None:
    """The same settings in FastStream's form, for ``KafkaBroker(security=...)``."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    use_ssl = protocol in ("SSL", "SASL_SSL")
    ssl_context = _ssl_context(settings) if use_ssl else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    username, password = _credentials(settings)
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kind[settings.sasl_mechanism](username, password.reveal(), ssl_context=ssl_context, use_ssl=use_ssl)


def _credentials(settings: KafkaSettings) -> tuple[str, Secret]:
    if not settings.sasl_username or settings.sasl_password is None:
        raise KafkaSecurityError(
            f"kafka.security_protocol is {settings.security_protocol}: set kafka.sasl_username and "
            "kafka.sasl_password (GENESIS_KAFKA_SASL_USERNAME, GENESIS_KAFKA_SASL_PASSWORD)"
        )
    return settings.sasl_username, settings.sasl_password


def _ssl_context(settings: KafkaSettings) -> Any:
    from aiokafka.helpers import create_ssl_context

    try:
        return create_ssl_context(
            cafile=settings.ssl_cafile, certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile
        )
    except (OSError, ValueError) as error:
        raise KafkaSecurityError(f"kafka.ssl_cafile/ssl_certfile/ssl_keyfile cannot be loaded: {error}") from None


async def check_login(bootstrap: str, timeout_s: float = 15.0) -> None:
    """Log in to the first bootstrap broker that answers, with the configured security.

    aiokafka reports a refused login only as "Unable to bootstrap"; this says what was refused and which settings
    to check. A broker that does not answer at all is left to the caller's own error (nothing is raised here).
    """
    from aiokafka.conn import create_conn
    from aiokafka.errors import (
        AuthenticationFailedError,
        IllegalSaslStateError,
        KafkaError,
        SaslAuthenticationFailed,
        UnsupportedSaslMechanismError,
    )

    options = client_options(bootstrap)
    options.pop("bootstrap_servers")
    settings = bootstrap.security if isinstance(bootstrap, KafkaEndpoint) else None
    for address in str(bootstrap).split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            connection = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout_s * 1000), **options), timeout_s
            )
        except (
            SaslAuthenticationFailed,
            AuthenticationFailedError,
            UnsupportedSaslMechanismError,
            IllegalSaslStateError,
        ) as error:
            user = settings.sasl_username if settings else None
            mechanism = f"{settings.security_protocol} {settings.sasl_mechanism}" if settings else "PLAINTEXT"
            reason = " ".join(str(error).split()) or type(error).__name__
            raise KafkaLoginError(
                f"Kafka at {address} refused the login of user {user!r} ({mechanism}): {reason}; check "
                "kafka.sasl_username, kafka.sasl_mechanism and kafka.sasl_password (GENESIS_KAFKA_SASL_PASSWORD)"
            ) from None
        except ssl.SSLError as error:
            raise KafkaLoginError(
                f"TLS handshake with Kafka at {address} failed: {error.reason or error}; check kafka.ssl_cafile, "
                "kafka.ssl_certfile and kafka.ssl_keyfile"
            ) from None
        except (OSError, TimeoutError, KafkaError, ValueError):
            continue  # not answering: try the next address
        connection.close()
        return
