"""The simulated platform: user ids and their popularity, IP addresses, user agents, clock."""

from __future__ import annotations

import ipaddress
import math
import zlib
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
HEADLESS_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36"
)
PARTNER_UA = "AcmePartner/2.1 (+https://partner.example/bot)"
PARTNER_ACCOUNT = "partner-acme"
CRAWLER_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SCRIPT_UAS = ("python-requests/2.31.0", "curl/8.4.0", "Go-http-client/1.1")
PYTHON_UA = SCRIPT_UAS[0]

SEARCH_WORDS = (
    "anna",
    "ben",
    "carla",
    "dev",
    "emma",
    "farid",
    "greta",
    "hugo",
    "ines",
    "jonas",
    "kim",
    "lea",
    "marco",
    "nina",
    "omar",
    "paula",
    "quinn",
    "rosa",
    "sam",
    "tara",
    "uwe",
    "vera",
    "wen",
    "yara",
    "photography",
    "running",
    "berlin",
    "paris",
    "lisbon",
    "design",
    "music",
    "jazz",
    "coffee",
    "hiking",
    "startup",
    "python",
    "recipes",
    "football",
    "yoga",
    "travel",
    "art",
    "books",
    "cycling",
    "climbing",
    "gardening",
    "film",
    "chess",
    "surf",
    "vegan",
    "architecture",
)
# E-mail addresses: first names (the first 24 SEARCH_WORDS), these last names, these domains.
LAST_NAMES = ("mueller", "schmidt", "silva", "santos", "martin", "bernard", "rossi", "ferrari", "smith", "jones",
              "novak", "kowalski", "garcia", "lopez", "jansen", "devries", "nielsen", "berg", "costa",
              "weber")  # fmt: skip
MAIL_DOMAINS = ("mail.example", "inbox.example", "post.example", "webmail.example")
# What recruiters type: a role and, often, a place.
ROLES = (
    "engineer",
    "python",
    "java",
    "designer",
    "sales",
    "nurse",
    "data+scientist",
    "product+manager",
    "marketing",
    "devops",
    "accountant",
    "teacher",
)
PLACES = ("berlin", "paris", "lisbon", "london", "madrid", "remote", "munich", "amsterdam")

# Address plan. Every address is private or reserved for documentation, so no real host is
# named; each range has one role, so an address says which family of actor may use it:
#   10.0.0.0/9        home addresses, one per roster slot, walked in a scattered order so
#                     neighbouring actors (or actor kinds) do not share a range
#   10.128.0.0/10     residential-proxy exits (proxy rotation, the hijacker's address)
#   10.192.0.0/10     hosting /24s (botnet subnets)
#   100.64.0.0/16     carrier-grade NAT gateways   } benign_nat_user: dozens of accounts
#   203.0.113.0/24    corporate egress addresses   } behind each address
#   100.96.0.0/11     mobile carrier pools (benign_mobile_user, IPv4)
#   198.51.100.0/28   the partner's API servers
#   66.249.64.0/27    the verified search-engine crawler
#   2001:db8::/32     IPv6: a home /64 per slot; mobile carriers renumber under it
_HOME = (0x0A000000, 1 << 23)
_RESIDENTIAL = (0x0A800000, 1 << 22)
_HOSTING = (0x0AC00000, 1 << 22)
_CGNAT = (0x64400000, 1 << 16)
_CORPORATE = (0xCB007100, 256)
_CARRIER = (0x64600000, 1 << 21)
PARTNER_NET = (0xC6336400, 16)
CRAWLER_NET = (0x42F94000, 32)
_POOL_STEP = 2_654_435_761  # odd prime: g -> g*step mod 2**k is a bijection
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


def dotted(v: int) -> str:
    """Dotted-quad text of a 32-bit address.

    >>> dotted(0x42F94001)
    '66.249.64.1'
    """
    return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


_INVERSE_STEP = pow(_POOL_STEP, -1, _HOME[1])


def home_slot(w: World, addr: int) -> int:
    """The roster slot whose home address (`World.ipv4`) is `addr` (an integer in 10.0.0.0/9).

    >>> w = World(3, 1.0, 100, {"missing_id_share": 0.3, "zipf_exponent": 1.1, "think_median_s": 20,
    ...     "think_sigma": 1.0, "diurnal_amplitude": 0.5, "diurnal_peak_utc_hour": 19}, 0)
    >>> home_slot(w, int(ipaddress.IPv4Address(w.ipv4(77))))
    77
    """
    base, size = _HOME
    return (addr - base - w.salt) * _INVERSE_STEP % size


def v6_network(net: int, subnet: int, iid: int) -> str:
    """An address in 2001:db8:<net>::/48, /64 `subnet`, interface id `iid`.

    >>> v6_network(0x2A, 1, 5)
    '2001:db8:2a:1::5'
    """
    return ipaddress.IPv6Address(_V6_BASE | (net & 0xFFFF) << 80 | (subnet & 0xFFFF) << 64 | (iid & M64)).compressed


def _alive(population: int, salt: int, missing: int) -> bytearray:
    """Which ids exist: 1 unless mix64(id ^ salt) falls in the `missing` millionths.

    Computed once (a quarter second per million ids) so that the per-request check
    is an index, not a hash.
    """
    out = bytearray(population)
    m = M64
    for n in range(population):
        x = n ^ salt
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
        out[n] = (x ^ (x >> 31)) % 1_000_000 >= missing
    return out


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
        self.end = round(hours * HOUR_MS)  # events have offsets in [0, end)
        self.population = max(accounts * 20, 10_000)
        self.salt = mix64(seed ^ 0x5EED)
        self._missing = int(params["missing_id_share"] * 1_000_000)
        self.alive = _alive(self.population, self.salt, self._missing)
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
        return 0 <= n < self.population and self.alive[n] == 1

    def existing_from(self, n: int) -> int:
        """The first existing id at or after n (wrapping around the id space)."""
        pop = self.population
        alive = self.alive
        n %= pop
        for _ in range(1000):
            if alive[n]:
                return n
            n += 1
            if n == pop:
                n = 0
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

    def search_results(self, query: str, page: int) -> list[int]:
        """The ten existing ids listed on a search page (stable: everyone sees the same list).

        Half come from the popular head, half from anywhere in the id space.

        >>> w = World(1, 1.0, 100, {"missing_id_share": 0.3, "zipf_exponent": 1.1, "think_median_s": 20,
        ...     "think_sigma": 1.0, "diurnal_amplitude": 0.5, "diurnal_peak_utc_hour": 19}, 0)
        >>> w.search_results("jazz", 2) == w.search_results("jazz", 2) != w.search_results("jazz", 3)
        True
        """
        rng = Random((zlib.crc32(query.encode()) << 40) ^ (page << 8) ^ (self.salt << 72))
        return [self.popular(rng) if i % 2 == 0 else self.uniform_existing(rng) for i in range(10)]

    def friend(self, account: int, j: int) -> int:
        """The j-th profile an account often visits (stable across sessions)."""
        return self.existing_from(mix64((account << 8 | j) ^ self.salt ^ 0xF1))

    # -- addresses --------------------------------------------------------------------
    def ipv4(self, slot: int) -> str:
        """A distinct home IPv4 address (10.0.0.0/9) per slot."""
        base, size = _HOME
        return dotted(base + (slot * _POOL_STEP + self.salt) % size)

    def residential(self, key: int) -> str:
        """A residential-proxy exit address (10.128.0.0/10), scattered by `key`."""
        base, size = _RESIDENTIAL
        return dotted(base + mix64(key ^ self.salt ^ 0x7E5) % size)

    def hosting_subnet(self, key: int) -> int:
        """The first address (as an integer) of a hosting /24 inside 10.192.0.0/10."""
        base, size = _HOSTING
        return base + (mix64(key ^ self.salt ^ 0x405) % (size >> 8) << 8)

    def nat_gateway(self, i: int) -> tuple[str, bool]:
        """The i-th shared address and whether it is a mobile carrier's NAT (else a corporate proxy):
        even i on 100.64.0.0/16 (carrier-grade NAT), odd i on 203.0.113.0/24 (offices)."""
        if i % 2 == 0:
            base, size = _CGNAT
            return dotted(base + (i // 2 * 40_503 + self.salt) % size), True
        base, size = _CORPORATE
        return dotted(base + (i // 2 * 37 + self.salt) % size), False

    def carrier_ipv4(self, key: int) -> str:
        """A mobile carrier's address (100.96.0.0/11) for one connection, scattered by `key`."""
        base, size = _CARRIER
        return dotted(base + mix64(key ^ self.salt ^ 0xCA) % size)

    def carrier_ipv6(self, key: int) -> str:
        """A mobile IPv6 address under 2001:db8::/32: a fresh /64 per connection."""
        h = mix64(key ^ self.salt ^ 0x66)
        return ipaddress.IPv6Address(_V6_BASE | (h & 0xFFFFFFFF) << 64 | (mix64(h) | 1)).compressed

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

    def first_arrival(self, rng: Random, per_hour: float, horizon: int | None = None) -> int:
        """First arrival in [0, horizon) (default: the window) of that process, given that there is one."""
        end = self.end if horizon is None else max(1, horizon)
        rate = per_hour * self.diurnal_max / HOUR_MS
        if rate <= 0:
            return self.diurnal_time(rng, 0, end)
        q = -math.expm1(-rate * end)  # P(at least one candidate in [0, end))
        top = self.diurnal_max
        while True:
            t = -math.log1p(-rng.random() * q) / rate  # truncated exponential in [0, end)
            while t < end:
                if rng.random() * top < self.diurnal(t):
                    return int(t)
                t += rng.expovariate(rate)
