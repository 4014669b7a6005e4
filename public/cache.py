"""A short-lived, per-process cache of scan answers: the scan is the hot path (a busy hospital door).

An entry lives SCAN_CACHE_SECONDS (default 5 s) at most, so a change (a revoked code, a new colour)
reaches every scanner within those seconds; that is well inside the 60 s the answer may be cached by
proxies anyway (Cache-Control), and it turns a burst of scans of one door into one database read.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedProfile:
    code_id: int
    profile: dict  # as profile.scan() built it (for the H5 page)
    body: bytes  # the JSON answer
    etag: str


def cached_profile(code_id: int, profile: dict, public: dict) -> CachedProfile:
    body = json.dumps(public, ensure_ascii=False, separators=(",", ":")).encode()
    return CachedProfile(code_id, profile, body, hashlib.sha256(body).hexdigest()[:32])


class ProfileCache:
    def __init__(self, seconds: float, max_entries: int = 1024):
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[object, tuple[float, CachedProfile]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key) -> CachedProfile | None:
        if self.seconds <= 0:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            expires, entry = found
            if expires < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key, entry: CachedProfile) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, entry)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
