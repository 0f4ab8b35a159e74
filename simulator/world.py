"""The simulated platform: user ids and their popularity, IP addresses, user agents, clock."""

from __future__ import annotations

import ipaddress
import math
from random import Random
from typing import Any

from .clock import HOUR_MS

M64 = (1 << 64) - 1

SITE = "https://social.example"

DESKTOP_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
)
MOBILE_WEB_UAS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
)
APP_UAS = (
    "SocialApp/5.12.0 (iPhone; iOS 17.2; Scale/3.00)",
    "SocialApp/5.12.0 (Android 14; Pixel 8)",
    "SocialApp/5.11.3 (Android 13; SM-S911B)",
)
SCRIPT_UAS = ("python-requests/2.31.0", "curl/8.4.0", "Go-http-client/1.1")
PYTHON_UA = SCRIPT_UAS[0]

SEARCH_WORDS = (
    "anna", "ben", "carla", "dev", "emma", "farid", "greta", "hugo", "ines", "jonas", "kim", "lea",
    "marco", "nina", "omar", "paula", "quinn", "rosa", "sam", "tara", "uwe", "vera", "wen", "yara",
    "photography", "running", "berlin", "paris", "lisbon", "design", "music", "jazz", "coffee",
    "hiking", "startup", "python", "recipes", "football", "yoga", "travel", "art", "books",
    "cycling", "climbing", "gardening", "film", "chess", "surf", "vegan", "architecture",
)

# IPv4 pool: 10.0.0.0/8, 100.64.0.0/10, 198.51.100.0/24, 203.0.113.0/24, walked in a
# scattered order so neighbouring actors (or actor kinds) do not share a range.
_POOL = ((0x0A000000, 1 << 24), (0x64400000, 1 << 22), (0xC6336400, 256), (0xCB007100, 256))
_POOL_SIZE = sum(n for _, n in _POOL)
_POOL_STEP = 2_654_435_761  # prime > pool size, so g -> g*step mod size is a bijection
_V6_BASE = 0x20010DB8 << 96  # 2001:db8::/32


def mix64(x: int) -> int:
    """SplitMix64 finaliser: a well-spread 64-bit hash of an integer.

    >>> mix64(1) != mix64(2) and 0 <= mix64(3) < 2**64
    True
    """
    x &= M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class World:
    """Everything actors share: clock window, user-id space, address pool, parameters.

    User ids are `u<N>` for N in [0, population); a seed-dependent `missing_id_share`
    of them do not exist (deleted), and so do not ids at or past `population`.
    Popularity is Zipf-like over a seed-dependent permutation of the ids.
    """

    def __init__(self, seed: int, hours: float, accounts: int, params: dict[str, Any], t0_ms: int):
        self.seed = seed
        self.params = params
        self.t0 = t0_ms
        self.end = int(round(hours * HOUR_MS))  # events have offsets in [0, end)
        self.population = max(accounts * 20, 10_000)
        self.salt = mix64(seed ^ 0x5EED)
        self._missing = int(params["missing_id_share"] * 1_000_000)
        s = params["zipf_exponent"]
        n = self.population
        if abs(s - 1.0) < 1e-9:
            self._zipf = (math.log(n), None)
        else:
            self._zipf = (n ** (1.0 - s) - 1.0, 1.0 / (1.0 - s))
        self._perm_a = 2_246_822_519  # prime > any population we make: a bijection mod n
        self._perm_b = self.salt % n
        self.think_mu = math.log(params["think_median_s"] * 1000.0)  # lognormal, in ms
        self.think_sigma = params["think_sigma"]
        amp = params["diurnal_amplitude"]
        self._amp = amp
        self.diurnal_max = 1.0 + amp
        self._phase_ms = (t0_ms - params["diurnal_peak_utc_hour"] * HOUR_MS) % (24 * HOUR_MS)

    # -- randomness -------------------------------------------------------------------
    def rng(self, tie: int, stream: int) -> Random:
        """A private generator for actor `tie`, sub-stream `stream` (e.g. a session)."""
        return Random(((self.seed & M64) << 64) | (tie << 24) | stream)

    # -- user ids ---------------------------------------------------------------------
    def exists(self, n: int) -> bool:
        """Whether profile u<n> exists (returns 200 rather than 404)."""
        return 0 <= n < self.population and mix64(n ^ self.salt) % 1_000_000 >= self._missing

    def existing_from(self, n: int) -> int:
        """The first existing id at or after n (wrapping around the id space)."""
        pop = self.population
        n %= pop
        for _ in range(1000):
            if self.exists(n):
                return n
            n = (n + 1) % pop
        return n  # missing_id_share ~ 1: give up, the caller gets a 404

    def popular(self, rng: Random) -> int:
        """An existing id drawn with Zipf-like popularity."""
        a, e = self._zipf
        u = rng.random()
        x = math.exp(a * u) if e is None else (a * u + 1.0) ** e
        rank = min(int(x) - 1, self.population - 1)
        return self.existing_from(rank * self._perm_a + self._perm_b)

    def uniform_existing(self, rng: Random) -> int:
        """An existing id drawn uniformly (what a crawler harvesting the id space gets)."""
        return self.existing_from(int(rng.random() * self.population))

    def friend(self, account: int, j: int) -> int:
        """The j-th profile an account often visits (stable across sessions)."""
        return self.existing_from(mix64((account << 8 | j) ^ self.salt ^ 0xF1))

    # -- addresses --------------------------------------------------------------------
    def ipv4(self, slot: int) -> str:
        """A distinct documentation/private IPv4 address per slot."""
        p = (slot * _POOL_STEP + self.salt) % _POOL_SIZE
        for base, size in _POOL:
            if p < size:
                v = base + p
                return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"
            p -= size
        raise AssertionError("unreachable")

    def ipv6(self, slot: int) -> str:
        """A distinct 2001:db8::/32 address per slot (mobile carriers)."""
        return ipaddress.IPv6Address(_V6_BASE | (slot & 0xFFFFFFFF) << 64 | (mix64(slot ^ self.salt) | 1)).compressed

    # -- time of day ------------------------------------------------------------------
    def diurnal(self, t: float) -> float:
        """Relative activity at offset t (ms): 1 +- amplitude, peaking at the peak hour UTC."""
        return 1.0 + self._amp * math.cos(2.0 * math.pi * ((t + self._phase_ms) % 86_400_000) / 86_400_000)

    def diurnal_time(self, rng: Random, lo: float, hi: float) -> int:
        """An offset in [lo, hi) drawn with density proportional to the diurnal curve."""
        top = self.diurnal_max
        while True:
            t = lo + rng.random() * (hi - lo)
            if rng.random() * top < self.diurnal(t):
                return int(t)

    def next_arrival(self, rng: Random, t: float, per_hour: float) -> float:
        """Next arrival after t of a Poisson process of `per_hour` (times the diurnal curve)."""
        rate = per_hour * self.diurnal_max / HOUR_MS
        if rate <= 0:
            return float(self.end)
        top = self.diurnal_max
        while True:
            t += rng.expovariate(rate)
            if t >= self.end or rng.random() * top < self.diurnal(t):
                return t

    def first_arrival(self, rng: Random, per_hour: float) -> int:
        """First arrival in the window of that process, given that there is one."""
        rate = per_hour * self.diurnal_max / HOUR_MS
        if rate <= 0:
            return self.diurnal_time(rng, 0, self.end)
        q = -math.expm1(-rate * self.end)  # P(at least one candidate in the window)
        top = self.diurnal_max
        while True:
            t = -math.log1p(-rng.random() * q) / rate  # truncated exponential in [0, end)
            while t < self.end:
                if rng.random() * top < self.diurnal(t):
                    return int(t)
                t += rng.expovariate(rate)
