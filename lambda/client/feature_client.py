"""The features endpoint's client for Python model servers (docs/serving.md).

Keys in, each key's features as of a time out, over HTTP: the same request and answer as the Node package
``event-time-feature-client``. Requests are signed with SigV4 (service ``lambda``) for the stack's Lambda function
URL when a region is given, with botocore (Debian: ``apt-get install python3-botocore``); unsigned for the local
endpoint of the sandbox, which needs the standard library only. One module: copy it into the model server.

    client = FeatureEndpointClient("https://….lambda-url.eu-west-1.on.aws/", key_field="user_id", region="eu-west-1")
    alice, bob = client.get_features(["alice", "bob"], at="2026-11-30T10:00:00Z", features=["txn_count_5m"])
    alice.features["txn_count_5m"].value, alice.features["txn_count_5m"].status  # 3, 'PRESENT'
"""

from __future__ import annotations

import datetime
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__all__ = [
    "MAX_KEYS_PER_REQUEST",
    "STATUSES",
    "FeatureEndpointClient",
    "FeatureEndpointError",
    "FeatureValue",
    "KeyFeatures",
    "key_features",
]

#: Keys the endpoint serves in one request; the client splits longer lists.
MAX_KEYS_PER_REQUEST = 100

#: A served feature's status (docs/semantics.md section 7).
STATUSES = ("PRESENT", "EMPTY", "STALE", "UNAVAILABLE", "WRITTEN_AFTER")

Key = Union[str, int, float]
Time = Union[int, float, str, datetime.datetime]


@dataclass(frozen=True)
class FeatureValue:
    """One feature of one key as served. Times are ISO-8601 strings."""

    name: str
    #: The aggregate over the window's records; with none, 0 for count, distinct and sum, None otherwise.
    value: Optional[float]
    #: One of STATUSES.
    status: str
    #: Records in the window.
    count: int
    #: Window bounds; None for a global window, and for a session feature with no session at the time asked.
    window_start: Optional[str]
    window_end: Optional[str]
    #: Newest event time among the records the value includes, when known.
    event_timestamp: Optional[str]


@dataclass(frozen=True)
class KeyFeatures:
    """One key's features, in the order of the request's keys."""

    key: str
    #: False when the key has no stored state (each feature then reads EMPTY).
    found: bool
    #: The key's shard watermark and when its state was written (ISO-8601), when found.
    watermark: Optional[str]
    written_at: Optional[str]
    features: Dict[str, FeatureValue]


class FeatureEndpointError(Exception):
    """The endpoint refused the request or could not be reached.

    ``status`` is the HTTP status (None when no answer came), ``field`` the request field at fault for a 400, and
    ``message`` the endpoint's message.
    """

    def __init__(self, message: str, status: Optional[int] = None, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def _bad_answer(what: str) -> FeatureEndpointError:
    return FeatureEndpointError("the endpoint's answer is not a features response: " + what, 200)


def key_features(response: Mapping[str, Any]) -> List[KeyFeatures]:
    """The endpoint's answer turned into one entry per key (raises FeatureEndpointError when malformed)."""
    meta = response.get("metadata") if isinstance(response, Mapping) else None
    results = response.get("results") if isinstance(response, Mapping) else None
    if not isinstance(meta, Mapping) or not isinstance(meta.get("feature_names"), list) or not isinstance(results, list):
        raise _bad_answer("no metadata.feature_names or results")
    names = meta["feature_names"]
    if len(names) != len(results):
        raise _bad_answer("%d names for %d result columns" % (len(names), len(results)))
    keys, columns = results[0]["values"], results[1:]
    rows = []
    for i, key in enumerate(keys):
        features = {}
        for name, col in zip(names[1:], columns):
            status = col["statuses"][i]
            if status not in STATUSES:
                raise _bad_answer("status %r of %s" % (status, name))
            features[name] = FeatureValue(
                name=name,
                value=col["values"][i],
                status=status,
                count=col["counts"][i] if "counts" in col else 0,
                window_start=col["window_starts"][i] if "window_starts" in col else None,
                window_end=col["window_ends"][i] if "window_ends" in col else None,
                event_timestamp=col["event_timestamps"][i],
            )
        rows.append(
            KeyFeatures(
                key=str(key),
                found=bool(meta["found"][i]),
                watermark=meta["watermarks"][i],
                written_at=meta["written_at"][i],
                features=features,
            )
        )
    return rows


def _request_time(at: Time) -> Union[int, float, str]:
    """Epoch milliseconds or ISO-8601 as the endpoint reads them; a naive datetime is UTC."""
    if isinstance(at, bool):
        raise TypeError("at must be epoch milliseconds, an ISO-8601 string or a datetime, got %r" % (at,))
    if isinstance(at, datetime.datetime):
        if at.tzinfo is None:
            at = at.replace(tzinfo=datetime.timezone.utc)
        return round(at.timestamp() * 1000)
    if isinstance(at, (int, float, str)):
        return at
    raise TypeError("at must be epoch milliseconds, an ISO-8601 string or a datetime, got %r" % (at,))


def _error_message(text: str) -> "tuple[str, Optional[str]]":
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        # The endpoint: {"error", "field"?, "message"}; AWS in front of a function URL: {"Message": "Forbidden"}.
        message = body.get("message", body.get("Message", body.get("error")))
        if isinstance(message, str):
            field = body.get("field")
            return message, field if isinstance(field, str) else None
    t = text.strip()
    return ("(empty body)" if t == "" else t if len(t) <= 300 else t[:300] + "…"), None


class FeatureEndpointClient:
    """A client of one features endpoint.

    url: the stack's FeaturesUrl output, or the local endpoint's URL.
    key_field: the spec's ``source.keyField`` (the endpoint takes keys under this name).
    region: the function URL's AWS region: requests are then signed with SigV4 (service ``lambda``). Default: unsigned.
    credentials: botocore credentials to sign with. Default: botocore's chain (environment, profile, SSO,
        container, instance), refreshed as it expires.
    timeout: seconds to wait for an answer.
    """

    def __init__(
        self,
        url: str,
        key_field: str,
        region: Optional[str] = None,
        credentials: Any = None,
        timeout: float = 10.0,
    ) -> None:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an http(s) URL, got %r" % (url,))
        if not isinstance(key_field, str) or key_field == "":
            raise ValueError("key_field must be the spec's source.keyField")
        if credentials is not None and region is None:
            raise ValueError("credentials are used to sign, which needs region too")
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds, got %r" % (timeout,))
        self.url = url
        self.key_field = key_field
        self.region = region
        self.timeout = timeout
        self._credentials = credentials
        self._auth = None
        if region is not None:
            self._auth = self._signer(region, credentials)

    @staticmethod
    def _signer(region: str, credentials: Any) -> Any:
        try:
            from botocore.auth import SigV4Auth
            from botocore.session import get_session
        except ImportError as e:
            raise ImportError(
                "signing for an AWS function URL needs botocore: apt-get install python3-botocore (or pip install botocore)"
            ) from e
        if credentials is None:
            credentials = get_session().get_credentials()
            if credentials is None:
                raise FeatureEndpointError(
                    "no AWS credentials found to sign with (environment, ~/.aws, SSO, container or instance role)"
                )

        class _Auth:
            def add_auth(self, request: Any) -> None:
                # Frozen per request: refreshable credentials renew themselves as they expire.
                frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
                SigV4Auth(frozen, "lambda", region).add_auth(request)

        return _Auth()

    def get_features(
        self,
        keys: Sequence[Key],
        at: Optional[Time] = None,
        features: Optional[Sequence[str]] = None,
    ) -> List[KeyFeatures]:
        """The features of each key (in the order given; a key may repeat) as of ``at``.

        at: epoch milliseconds, ISO-8601 (no offset: UTC) or a datetime; default the endpoint's now.
        features: names, in the order wanted; default every feature of the spec.
        More than 100 keys go in several requests, all as of the same time (now, when at is not given).
        Raises FeatureEndpointError with the endpoint's status and message (a 400 names the field at fault).
        """
        keys = list(keys)
        if not keys:
            return []
        if at is None and len(keys) > MAX_KEYS_PER_REQUEST:
            at = int(time.time() * 1000)
        rows: List[KeyFeatures] = []
        for i in range(0, len(keys), MAX_KEYS_PER_REQUEST):
            body: Dict[str, Any] = {"entities": {self.key_field: keys[i : i + MAX_KEYS_PER_REQUEST]}}
            if features is not None:
                body["features"] = list(features)
            if at is not None:
                body["at"] = _request_time(at)
            rows.extend(key_features(self.request(body)))
        return rows

    def request(self, body: Mapping[str, Any]) -> Dict[str, Any]:
        """One request as the endpoint takes it; its answer as sent (a dict after Feast's response)."""
        data = json.dumps(body, allow_nan=False).encode("utf-8")
        headers = {"content-type": "application/json"}
        if self._auth is not None:
            from botocore.awsrequest import AWSRequest

            signed = AWSRequest(method="POST", url=self.url, data=data, headers=headers)
            self._auth.add_auth(signed)
            headers = dict(signed.headers.items())
        req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                status, text = res.status, res.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            message, field = _error_message(e.read().decode("utf-8", "replace"))
            raise FeatureEndpointError(
                "the features endpoint %s answered %d: %s" % (self.url, e.code, message), e.code, field
            ) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, socket.timeout):
                reason = "no answer within %g s" % self.timeout
            raise FeatureEndpointError("could not reach the features endpoint %s: %s" % (self.url, reason)) from e
        try:
            return json.loads(text)
        except ValueError:
            raise FeatureEndpointError(
                "the features endpoint %s answered %d with a body that is not JSON: %s" % (self.url, status, _error_message(text)[0]),
                status,
            ) from None
